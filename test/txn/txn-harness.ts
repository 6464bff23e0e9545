import type { ExecutionContext } from 'ava';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import type { DelegationKeySource } from '../../spiffe/delegation/types.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import type { JwtSvidSource } from '../../spiffe/source/types.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { jwtSvidOf } from '../../spiffe/jwtsvid/parse.ts';
import { ID_TOKEN, payloadOf, startEnv, type Env, type HttpResult, type Params, type Scope, type Workload } from '../oauth/harness.ts';

/**
 * A real in-process server (SQLite, real sockets) set up for transaction tokens: agent
 * A holds alice's delegated token for the trading tool; the gateway (the tool's front
 * door) may turn it into txn tokens; the ledger, further down the call chain, may
 * replace them; a batch job may start transactions of its own.
 */
export const TXN = 'urn:ietf:params:oauth:token-type:txn_token';
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOOLS = 'https://trading.example.org';
export const TD = 'spiffe://example.org';
export const AGENT = 'spiffe://example.org/agents/researcher';
export const GATEWAY = 'spiffe://example.org/services/gateway';
export const LEDGER = 'spiffe://example.org/services/ledger';
export const BATCH = 'spiffe://example.org/services/batch';

export interface TxnEnv extends Env {
  bundles: BundleSet;
  /** The server's token-signing keys, as a resource server would fetch them. */
  keys(): Promise<DelegationKeySource>;
  /** alice's delegated token, held by the agent (bound to its certificate). */
  accessToken(scope?: string): Promise<string>;
  /** POST /oauth2/token for a txn token with these parameters (grant and token type filled in). */
  txn(params: Params, as?: Workload): Promise<HttpResult>;
  sourceOf(w: Workload): StaticX509Source;
  jwtSourceOf(path: string): JwtSvidSource;
}

export async function startTxnEnv(scope: Scope): Promise<TxnEnv> {
  const env = await startEnv(scope);
  await env.policy({ id: 'pol_agent', actors: [AGENT], groups: ['eng'], audiences: [TOOLS], scopes: ['trade:read', 'trade:buy', 'files:read'], maxTtl: 300 });
  await env.policy({ id: 'pol_gateway', actors: [GATEWAY], audiences: [TD], scopes: ['trade:read', 'trade:buy'], maxTtl: 120 });
  await env.policy({ id: 'pol_ledger', actors: [LEDGER], audiences: [TD], scopes: ['trade:buy'], maxTtl: 60 });
  await env.policy({ id: 'pol_batch', actors: [BATCH], subjectIssuer: env.issuer, audiences: [TD], scopes: ['reports:build'], maxTtl: 30 });
  const td = TrustDomain.parse('example.org');
  const bundles = new BundleSet([new SpiffeBundle(td, { x509Authorities: env.server.ca.x509Authorities() })]);
  return Object.assign(env, {
    bundles,
    async keys() { return createStaticDelegationKeys((await env.request('GET', '/oauth2/jwks')).json as { keys: unknown[] }); },
    async accessToken(scope = 'trade:read trade:buy') {
      const r = await env.exchange({ subject_token: await env.idp.token({ sub: 'alice', groups: ['eng'] }), subject_token_type: ID_TOKEN, audience: TOOLS, scope },
        env.svid('/agents/researcher', { agent_model: 'claude-sonnet-4' }));
      if (r.status !== 200) throw new Error(r.text);
      return r.json.access_token as string;
    },
    txn: (params: Params, as?: Workload) => env.request('POST', '/oauth2/token', {
      as, params: Array.isArray(params)
        ? [['grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange'], ['requested_token_type', TXN], ...params]
        : { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', requested_token_type: TXN, ...params },
    }),
    sourceOf: (w: Workload) => new StaticX509Source({ svid: parseX509Svid(w.chain, new Uint8Array(w.key.export({ type: 'pkcs8', format: 'der' }))), bundles }),
    jwtSourceOf: (path: string): JwtSvidSource => ({
      async fetchJwtSvid(p) {
        const audience = Array.isArray(p.audience) ? p.audience : [p.audience];
        const token = await env.jwtSvid(path, audience);
        const c = payloadOf(token);
        return jwtSvidOf(SpiffeId.parse(`spiffe://example.org${path}`), token, audience, c.exp, c);
      },
    }),
  });
}

/** An RFC 6749 §5.2 refusal: status, error, a description matching `description`, no-store. */
export function oauthError(t: ExecutionContext, r: HttpResult, status: number, error: string, description: RegExp): void {
  t.is(r.status, status, r.text);
  t.is(r.json.error, error, r.text);
  t.regex(String(r.json.error_description), description);
  t.is(r.headers['cache-control'], 'no-store');
}
