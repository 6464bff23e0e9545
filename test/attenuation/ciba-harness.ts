import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { loginWithCode, trustingFetch, type FetchLike } from '../helpers/oidc-flow.ts';
import { DEFAULT_USERS, startOpenIdProvider, type OpenIdProvider } from '../helpers/oidc-provider.ts';
import { startEnv, type Env, type HttpResult, type Params, type Scope, type Workload } from '../oauth/harness.ts';
import { Browser, formOf, toConsent, type McpEnv, type Step } from '../oauth/mcp-harness.ts';

/**
 * Tessera with human approval (OpenID CIBA, docs/attenuation.md) whose approvers sign
 * in at the REAL test OpenID Provider: client `tessera` (Tessera's login, both callbacks
 * registered) and a public client `agent-app` through which users hand agents their ID
 * tokens. Users: alice (eng), bob (sales), carol (leads).
 */
export const CIBA = 'urn:openid:params:grant-type:ciba';
export const RS = 'https://reviews.example.org';
export const PLANNER = 'spiffe://example.org/agents/planner';

export interface CibaEnv extends Env {
  op: OpenIdProvider;
  fetch: FetchLike;
  /** PEM trusting Tessera's CA, the OP's and any extra. */
  caPem: string;
  idToken(user: string): Promise<string>;
  bcAuthorize(params: Params, as?: Workload): Promise<HttpResult>;
  poll(authReqId: string, as?: Workload): Promise<HttpResult>;
}

export async function startCibaEnv(scope: Scope, o: { oauth?: Record<string, unknown>; extraCa?: string } = {}): Promise<CibaEnv> {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const op = await startOpenIdProvider(scope, {
    users: [...DEFAULT_USERS, { sub: 'carol', email: 'carol@example.org', name: 'Carol Lead', groups: ['leads'] }],
    clients: [
      { clientId: 'tessera', clientSecret: randomBytes(16).toString('base64url'), redirectUris: [`${base}/oauth2/callback`, `${base}/oauth2/approvals/callback`] },
      { clientId: 'agent-app' },
    ],
  });
  const env = await startEnv(scope, {
    oauth: {
      listen: `127.0.0.1:${port}`,
      trusted_issuers: [{ issuer: op.issuer, audience: ['tessera', 'agent-app'], groups_claim: 'groups', ca_file: op.caFile }],
      login: { issuer: op.issuer, client_id: 'tessera', client_secret: op.clients[0]!.clientSecret, ca_file: op.caFile },
      ciba: { interval: '2s' },
      ...o.oauth,
    },
  });
  const caPem = `${certificatesToPem(env.server.ca.x509Authorities())}\n${op.ca}\n${o.extraCa ?? ''}`;
  return Object.assign(env, {
    op, caPem, fetch: trustingFetch(caPem),
    idToken: async (user: string) => (await loginWithCode(op, { user, clientId: 'agent-app', resource: false })).idToken,
    bcAuthorize: (params: Params, as?: Workload) => env.request('POST', '/oauth2/bc-authorize', { params, as }),
    poll: (authReqId: string, as?: Workload) => env.request('POST', '/oauth2/token', { params: { grant_type: CIBA, auth_req_id: authReqId }, as }),
  });
}

/** A person's browser signed in on the approval page (through the OP's login and consent pages). */
export async function signIn(env: CibaEnv, user: string): Promise<{ browser: Browser; page: Step }> {
  const browser = new Browser(env.fetch);
  // toConsent drives any Tessera page through the OP's forms; it reads only issuer and op.
  const page = await toConsent({ issuer: env.issuer, op: env.op } as McpEnv, browser, `${env.issuer}/oauth2/approvals`, user);
  return { browser, page };
}

/** Presses Approve or Deny of request `id` on a list page; `csrf` overrides (null drops) the form's token. */
export async function decide(env: CibaEnv, b: Browser, page: Step, id: string, decision: 'approve' | 'deny', csrf?: string | null): Promise<Step> {
  const f = formOf(page.html, `form-${id}`);
  if (!f) throw new Error(`request ${id} is not on the page (${page.status}): ${page.html.slice(0, 600)}`);
  const fields: Record<string, string> = { ...f.fields, decision };
  if (csrf === null) delete fields.csrf; else if (csrf !== undefined) fields.csrf = csrf;
  return b.go(new URL(f.action, env.issuer), fields);
}

/** The request ids listed on an approval page. */
export const listedIds = (html: string): string[] => [...html.matchAll(/<section id="(apr_[^"]+)" class="request">/g)].map((m) => m[1]!);

/** The approval id (`apr_…`) of an auth_req_id, from the store (the agent never sees it). */
export async function approvalIdOf(env: CibaEnv, authReqId: string): Promise<string> {
  const r = await env.server.store.getApprovalRequest({ reqHash: createHash('sha256').update(authReqId).digest('hex') });
  if (!r) throw new Error('no approval request for this auth_req_id');
  return r.id;
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
  await new Promise((r) => s.close(r));
  return port;
}
