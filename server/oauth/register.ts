import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import { checkRedirectUri } from './authz-params.ts';
import { clip, readBody, sendJson } from './http.ts';
import type { Route } from './listener.ts';

/**
 * RFC 7591 dynamic client registration at POST /oauth2/register: DEPRECATED by MCP
 * (2026-07-28 prefers Client ID Metadata Documents) and off unless
 * `oauth.dynamic_registration: true`. Registers public clients only (PKCE, no secret);
 * the assigned client_id is an https URL under this issuer, so delegation policies name
 * it like any other public client (an exact client_id URL in `actors`).
 */
export function registerRoute(d: { store: Pick<Datastore, 'createOAuthClient'>; issuer: string; clock: Clock; logger: Logger }): Route {
  return {
    method: 'POST', path: '/oauth2/register',
    async handler(ctx) {
      const fail = (error: string, description: string) => sendJson(ctx.res, 400, { error, error_description: description });
      const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return fail('invalid_client_metadata', `the registration request must be application/json, not ${clip(type || 'missing', 80)}`);
      let m: Record<string, unknown>;
      try {
        const v: unknown = JSON.parse((await readBody(ctx.req)).toString('utf8'));
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        m = v as Record<string, unknown>;
      } catch { return fail('invalid_client_metadata', 'the registration request is not a JSON object'); }
      const uris = m.redirect_uris;
      if (!Array.isArray(uris) || uris.length === 0 || uris.some((u) => typeof u !== 'string')) {
        return fail('invalid_redirect_uri', 'redirect_uris is required: a non-empty list of URIs');
      }
      for (const u of uris as string[]) {
        const why = checkRedirectUri(u);
        if (why) return fail('invalid_redirect_uri', why);
      }
      const method = m.token_endpoint_auth_method ?? 'none';
      if (method !== 'none') {
        return fail('invalid_client_metadata', `token_endpoint_auth_method ${clip(JSON.stringify(method), 60)} is not supported for dynamic registration; public clients use none (PKCE)`);
      }
      if (m.grant_types !== undefined && (!Array.isArray(m.grant_types) || m.grant_types.some((g) => g !== 'authorization_code' && g !== 'refresh_token'))) {
        return fail('invalid_client_metadata', 'grant_types may contain only authorization_code and refresh_token');
      }
      const name = typeof m.client_name === 'string' ? clip(m.client_name.trim(), 120) : '';
      const now = Math.floor(d.clock.now() / 1000);
      const clientId = `${d.issuer}/oauth2/clients/${randomBytes(16).toString('base64url')}`;
      await d.store.createOAuthClient({
        clientId, name, redirectUris: [...uris as string[]], authMethod: 'none', registeredBy: 'dynamic', createdAt: now,
      });
      d.logger.info('client registered dynamically', { client_id: clientId, client_name: name, redirect_uris: uris });
      sendJson(ctx.res, 201, {
        client_id: clientId, client_id_issued_at: now, client_name: name, redirect_uris: uris,
        token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'],
      });
    },
  };
}
