import type { Clock } from '../../common/clock.ts';
import { invalidArgument, notFound } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import type { OAuthClientAuthMethod, OAuthClientRecord } from '../datastore/sql-clients.ts';
import type { Datastore } from '../datastore/types.ts';
import { checkRedirectUri, isLoopbackHost } from '../oauth/authz-params.ts';
import type { ClientAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/ClientAdmin.ts';
import type { OAuthClient, OAuthClient__Output } from '../../proto/gen/tessera-api/tessera/v1/OAuthClient.ts';
import { unary } from './unary.ts';

/**
 * ClientAdmin on the admin socket (docs/mcp.md "Clients"): pre-registered OAuth clients
 * of the authorization server. Two kinds, never mixed:
 * - an attested workload: client_id = its SPIFFE ID, authenticating with its X.509-SVID
 *   (`tls_client_auth`) or a JWT-SVID assertion (`spiffe_jwt`; `private_key_jwt` with
 *   the jwt-spiffe assertion type in OAuth metadata);
 * - a public client: client_id = an https URL (http on loopback), method `none`, PKCE.
 * There are no client secrets. Input is validated here (InvalidArgument naming the
 * field); every change is logged and audited.
 */
export interface ClientAdminDeps {
  store: Datastore;
  clock: Clock;
  logger: Logger;
  who?: () => string;
}

/** Wire names of the methods; `spiffe_jwt` is stored as private_key_jwt (client-auth.ts). */
const WIRE_METHODS: Record<string, OAuthClientAuthMethod> = {
  tls_client_auth: 'tls_client_auth', spiffe_jwt: 'private_key_jwt', private_key_jwt: 'private_key_jwt', none: 'none',
};
const MAX_REDIRECT_URIS = 32;
const MAX_NAME = 120;
const MAX_CLIENT_ID = 2048;

const bad = (field: string, msg: string) => invalidArgument('ERR_CLIENT_INVALID', `${field}: ${msg}`);

export function clientAdminHandlers(d: ClientAdminDeps): ClientAdminHandlers {
  const log = d.logger.child({ component: 'client-admin' });
  const who = d.who ?? (() => 'admin');
  const audit = async (event: string, clientId: string, data: Record<string, unknown>) => {
    log.info(event, { event, client_id: clientId, who: who(), ...data });
    await d.store.appendAudit({ time: Math.floor(d.clock.now() / 1000), event, subject: clientId, data: { who: who(), ...data } });
  };

  return {
    CreateClient: unary(log, 'CreateClient', async (call) => {
      const rec = validateClient(call.request, Math.floor(d.clock.now() / 1000));
      const created = await d.store.createOAuthClient(rec);
      await audit('oauth.client_created', created.clientId, { name: created.name, redirect_uris: created.redirectUris, auth_method: created.authMethod });
      return toWireClient(created);
    }),
    GetClient: unary(log, 'GetClient', async (call) => {
      const c = await d.store.getOAuthClient(call.request.client_id);
      if (!c) throw notFound('ERR_CLIENT_NOT_FOUND', `OAuth client "${call.request.client_id}" not found`);
      return toWireClient(c);
    }),
    ListClients: unary(log, 'ListClients', async () => ({ clients: (await d.store.listOAuthClients()).map(toWireClient) })),
    DeleteClient: unary(log, 'DeleteClient', async (call) => {
      const id = call.request.client_id;
      if (!(await d.store.deleteOAuthClient(id))) throw notFound('ERR_CLIENT_NOT_FOUND', `OAuth client "${id}" not found`);
      await audit('oauth.client_deleted', id, {});
      return { client_id: id };
    }),
  };
}

export function validateClient(r: OAuthClient__Output, now: number): OAuthClientRecord {
  const raw = r.client_id.trim();
  if (!raw) throw bad('client_id', 'is required: a SPIFFE ID (an attested workload) or an https URL (a public client)');
  if (raw.length > MAX_CLIENT_ID) throw bad('client_id', `is ${raw.length} characters; at most ${MAX_CLIENT_ID}`);
  const methodText = r.auth_method || '';
  if (methodText && !(methodText in WIRE_METHODS)) {
    throw bad('auth_method', `"${methodText.slice(0, 60)}" is not one of tls_client_auth, spiffe_jwt, none (there are no client secrets)`);
  }
  let clientId: string;
  let method: OAuthClientAuthMethod;
  if (/^spiffe:/i.test(raw)) {
    let id: SpiffeId;
    try { id = SpiffeId.parse(raw); } catch (e) { throw bad('client_id', `"${raw.slice(0, 200)}" is not a SPIFFE ID: ${(e as Error).message}`); }
    if (id.isTrustDomainId) throw bad('client_id', `"${raw}" names a trust domain, not a workload`);
    clientId = id.toString();
    method = methodText ? WIRE_METHODS[methodText]! : 'tls_client_auth';
    if (method === 'none') {
      throw bad('auth_method', `none is not allowed for ${clientId}: a SPIFFE ID client proves its identity with its X.509-SVID (tls_client_auth) or a JWT-SVID (spiffe_jwt)`);
    }
  } else {
    const why = urlClientId(raw);
    if (why) throw bad('client_id', why);
    clientId = raw;
    method = methodText ? WIRE_METHODS[methodText]! : 'none';
    if (method !== 'none') {
      throw bad('auth_method', `${methodText} is not possible for ${clientId}: only a SPIFFE ID client authenticates with an SVID; a URL client is public (none, PKCE)`);
    }
  }
  const uris = [...new Set(r.redirect_uris)];
  if (uris.length > MAX_REDIRECT_URIS) throw bad('redirect_uris', `${uris.length} given; at most ${MAX_REDIRECT_URIS}`);
  uris.forEach((u, i) => { const why = checkRedirectUri(u); if (why) throw bad(`redirect_uris[${i}]`, why); });
  if (method === 'none' && uris.length === 0) {
    throw bad('redirect_uris', `a public client needs at least one redirect URI (it only uses the authorization code flow)`);
  }
  const name = r.name.trim();
  if (name.length > MAX_NAME) throw bad('name', `is ${name.length} characters; at most ${MAX_NAME}`);
  return { clientId, name, redirectUris: uris, authMethod: method, registeredBy: 'admin', createdAt: now };
}

/** Why a URL client_id is unacceptable (undefined when fine): https, or http on a loopback host; no fragment, no spaces. */
function urlClientId(s: string): string | undefined {
  let u: URL;
  try { u = new URL(s); } catch { return `"${s.slice(0, 200)}" is neither a SPIFFE ID nor an absolute https URL`; }
  if (s.includes('#') || /\s/.test(s)) return `"${s.slice(0, 200)}" must not contain a fragment or whitespace`;
  if (u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname))) return undefined;
  return `"${s.slice(0, 200)}" must be a SPIFFE ID or an https URL (http only on loopback)`;
}

const WIRE_NAME: Record<OAuthClientAuthMethod, string> = { tls_client_auth: 'tls_client_auth', private_key_jwt: 'spiffe_jwt', none: 'none' };

export function toWireClient(c: OAuthClientRecord): OAuthClient {
  return {
    client_id: c.clientId, name: c.name, redirect_uris: c.redirectUris, auth_method: WIRE_NAME[c.authMethod],
    registered_by: c.registeredBy, created_at: c.createdAt,
  };
}
