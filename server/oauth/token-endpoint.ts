import type { Clock } from '../../common/clock.ts';
import { OAuthError } from './errors.ts';
import { clip, sendJson, type Form } from './http.ts';
import type { ClientCertificate, Route } from './listener.ts';

/**
 * POST /oauth2/token (RFC 6749 §3.2): one endpoint, one handler per grant_type. A
 * grant declares which of its parameters may repeat; every other parameter is
 * refused when repeated, before the grant sees the request. Later grants
 * (authorization_code, client_credentials, refresh_token, CIBA, jwt-bearer) register
 * here the same way.
 */
export interface GrantRequest {
  form: Form;
  /** The caller's verified X.509-SVID (invalid_client when one was presented and failed). */
  client(): ClientCertificate | undefined;
  /** Unix seconds. */
  now: number;
}

export interface GrantHandler {
  grantType: string;
  /** Parameters that may appear more than once (e.g. audience, resource). */
  repeatable?: readonly string[];
  /**
   * Set: this handler serves only requests of `grantType` whose requested_token_type is
   * this (RFC 8693 token types with their own rules, e.g. transaction tokens); other
   * requests of the grant type go to the handler registered without one.
   */
  requestedTokenType?: string;
  /** The successful token response (RFC 6749 §5.1 body). Throws OAuthError. */
  handle(r: GrantRequest): Promise<Record<string, unknown>>;
}

/** Told of every token request's grant type and outcome ("ok" or the OAuth error code): server/metrics subscribes. */
export const tokenRequestObservers = new Set<(grantType: string, outcome: string) => void>();

export class TokenEndpoint {
  private grants = new Map<string, GrantHandler>();
  /** Handlers by `${grantType} ${requestedTokenType}` (GrantHandler.requestedTokenType). */
  private byTokenType = new Map<string, GrantHandler>();

  constructor(private readonly clock: Clock) {}

  register(h: GrantHandler): void {
    if (h.requestedTokenType !== undefined) {
      const key = `${h.grantType} ${h.requestedTokenType}`;
      if (this.byTokenType.has(key)) throw new Error(`grant type ${h.grantType} for ${h.requestedTokenType} is registered twice`);
      this.byTokenType.set(key, h);
      return;
    }
    if (this.grants.has(h.grantType)) throw new Error(`grant type ${h.grantType} is registered twice`);
    this.grants.set(h.grantType, h);
  }

  grantTypes(): string[] { return [...new Set([...this.grants.keys(), ...[...this.byTokenType.values()].map((h) => h.grantType)])]; }

  route(path = '/oauth2/token'): Route {
    return {
      method: 'POST', path,
      handler: async (ctx) => {
        let grant = 'none'; // metrics label: a registered grant type, "unsupported" or "none"
        try {
          const form = await ctx.form();
          const grantType = form.require('grant_type');
          const h = (this.byTokenType.size ? this.byTokenType.get(`${grantType} ${form.get('requested_token_type')}`) : undefined)
            ?? this.grants.get(grantType);
          grant = h ? grantType : 'unsupported';
          if (!h) {
            throw new OAuthError('unsupported_grant_type',
              `grant_type ${clip(grantType, 100)} is not supported; supported: ${this.grantTypes().join(', ')}`);
          }
          form.assertSingle(h.repeatable);
          const body = await h.handle({ form, client: ctx.client, now: Math.floor(this.clock.now() / 1000) });
          sendJson(ctx.res, 200, body);
          for (const o of tokenRequestObservers) o(grant, 'ok');
        } catch (e) {
          for (const o of tokenRequestObservers) o(grant, e instanceof OAuthError ? e.error : 'server_error');
          throw e;
        }
      },
    };
  }
}
