/**
 * The demo's delegated-authority steps (docs/delegation.md): a local OpenID Provider the
 * server trusts, a user signed in through the real authorization-code + PKCE flow,
 * examples/delegation/ run as real processes (agent A, sub-agent B, the resource server,
 * each with its own SVID from the Workload API), then the grant revoked.
 *
 *   user alice ─ID token→ A ─delegated token (files:read review:post)→ B ─narrower token (files:read)→ resource server
 *
 * The OP and the flow are the test helpers (test/helpers/oidc-provider.ts, oidc-flow.ts):
 * the same real oidc-provider and openid-client, driven over HTTP (no browser).
 */
import { randomBytes } from 'node:crypto';
import { loginWithCode } from '../../test/helpers/oidc-flow.ts';
import { startOpenIdProvider, type OpenIdProvider } from '../../test/helpers/oidc-provider.ts';
import { spawnTs, type Proc } from '../../test/helpers/proc.ts';
import type { Scope } from '../../test/helpers/server.ts';

const TD = 'example.org';
export const AUDIENCE = 'https://files.example.org';
export const ID = {
  a: `spiffe://${TD}/agents/planner`,
  b: `spiffe://${TD}/agents/reviewer`,
  rs: `spiffe://${TD}/services/files`,
};

export interface DelegationDemo {
  op: OpenIdProvider;
  scope: Scope;
  /** Runs `tessera-server <args>` against the demo server's admin socket; resolves with stdout. */
  admin(args: string[]): Promise<string>;
  agentId: string;
  /** The node agent's Workload API socket path. */
  socket: string;
  uid: number;
  /** host:port of the server's OAuth listener (<data_dir>/oauth.addr). */
  authServer: string;
  detail(text: string): void;
}

/**
 * The in-process OpenID Provider (users alice in eng, bob in sales), closed by `scope`.
 * Two clients: `tessera`, whose ID tokens the demo's users hand to agents, and
 * `tessera-login`, the server's own sign-in for its authorization endpoint (MCP clients
 * need the endpoint in the metadata) on the OAuth listener at `oauthPort`.
 */
export const startIdp = (scope: Scope, oauthPort: number): Promise<OpenIdProvider> => startOpenIdProvider(scope, {
  clients: [
    { clientId: 'tessera', clientSecret: randomBytes(16).toString('base64url') },
    { clientId: 'tessera-login', clientSecret: randomBytes(16).toString('base64url'), redirectUris: [`https://127.0.0.1:${oauthPort}/oauth2/callback`] },
  ],
});

/** The server config's `oauth` section (YAML lines): its own listener, trusting `op` and signing users in there. */
export const oauthConfigYaml = (op: OpenIdProvider, oauthPort: number): string[] => {
  const login = op.clients.find((c) => c.clientId === 'tessera-login')!;
  return [
    'oauth:', `  listen: 127.0.0.1:${oauthPort}`, '  trusted_issuers:',
    `    - issuer: ${op.issuer}`, '      audience: tessera', '      groups_claim: groups', `      ca_file: ${op.caFile}`,
    '  login:', `    issuer: ${op.issuer}`, `    client_id: ${login.clientId}`, `    client_secret: ${login.clientSecret}`, `    ca_file: ${op.caFile}`,
  ];
};

/** alice signs in at the OP (login and consent forms over HTTP); resolves with her ID token. */
export async function signIn(d: DelegationDemo, user: string): Promise<string> {
  const { idToken, claims } = await loginWithCode(d.op, { user });
  d.detail(`ID token for ${claims.sub} (groups ${(claims.groups as string[]).join(' ')}), aud ${String(claims.aud)}, `
    + `expires ${new Date(claims.exp * 1000).toISOString()}`);
  return idToken;
}

/** Entries for A, B and the resource server, and who may act for whom (default deny). */
export async function register(d: DelegationDemo): Promise<void> {
  const entry = (id: string, extra: string[] = []) =>
    d.admin(['entry', 'create', '--parent-id', d.agentId, '--spiffe-id', id, '--selector', `unix:uid:${d.uid}`, ...extra]);
  await Promise.all([
    entry(ID.a, ['--agent-model', 'planner-1', '--agent-provider', 'anthropic']),
    entry(ID.b, ['--agent-model', 'reviewer-1', '--agent-provider', 'anthropic']),
    entry(ID.rs),
  ]);
  d.detail(`agent A       ${ID.a}`);
  d.detail(`sub-agent B   ${ID.b}`);
  d.detail(`resource      ${ID.rs} (${AUDIENCE})`);
  const policy = (args: string[]) => d.admin(['delegation', 'create', '--issuer', d.op.issuer, '--audience', AUDIENCE, ...args]);
  await Promise.all([
    policy(['--id', 'pol_planner', '--actor', ID.a, '--group', 'eng', '--scope', 'files:read', '--scope', 'review:post',
      '--max-ttl', '5m', '--max-depth', '2', '--may-delegate-to', ID.b]),
    policy(['--id', 'pol_reviewer', '--actor', ID.b, '--scope', 'files:read', '--max-depth', '2']),
  ]);
  d.detail('policy pol_planner   A may act for users in group eng: files:read review:post, 5 min, may delegate to B');
  d.detail('policy pol_reviewer  B may act below what it is handed: files:read');
}

export interface Running { rs: Proc; b: Proc; a: Proc }

/** Starts the resource server and B, then A for the user; resolves once the resource server answered. */
export async function delegate(d: DelegationDemo, idToken: string): Promise<Running> {
  const tokenEndpoint = `https://${d.authServer}/oauth2/token`;
  const rs = workload(d, 'resource-server.ts', ID.rs, {
    ISSUER: `https://${d.authServer}`, AUDIENCE, REQUIRED_SCOPE: 'files:read', ACTORS: `spiffe://${TD}/agents/*`, MAX_DEPTH: '2', PORT: '0',
  });
  const rsPort = await portOf(rs);
  const b = workload(d, 'sub-agent.ts', ID.b, {
    PORT: '0', PARENT_ID: ID.a, TOKEN_ENDPOINT: tokenEndpoint, AUDIENCE, SCOPE: 'files:read',
    RESOURCE_URL: `https://127.0.0.1:${rsPort}/files`, RESOURCE_ID: ID.rs,
  });
  const bPort = await portOf(b);
  d.detail(`resource server on 127.0.0.1:${rsPort} (mTLS), subscribed to the revocation feed; sub-agent B on 127.0.0.1:${bPort}`);
  // A keeps sending tasks (with the same token) until refused: step 9 revokes under it.
  const a = workload(d, 'agent-a.ts', ID.a, {
    USER_TOKEN: idToken, TOKEN_ENDPOINT: tokenEndpoint, AUDIENCE, SCOPE: 'files:read review:post',
    SUB_AGENT_URL: `https://127.0.0.1:${bPort}`, SUB_AGENT_ID: ID.b, COUNT: '100000', INTERVAL_MS: '250',
  });
  const answer = await a.waitFor(/^user [^\n]*/m);
  d.detail(`A exchanged the ID token for a delegated token bound to its SVID: scope ${await scopeLogged(a, 'delegated token')}`);
  d.detail(`B exchanged A's token for a narrower one of its own:            scope ${await scopeLogged(b, 'narrowed token')}`);
  d.detail(`resource server answered: ${answer}`);
  return { rs, b, a };
}

/** Revokes the grant A's tokens belong to; resolves once A reports the resource server's refusal. */
export async function revoke(d: DelegationDemo, r: Running): Promise<void> {
  const served = await r.rs.waitFor(/"msg":"served"[^\n]*"grant_id":"grt_[\w-]+"/);
  const grant = /"grant_id":"(grt_[\w-]+)"/.exec(served)![1]!;
  d.detail(`$ tessera-server delegation revoke --grant ${grant}`);
  d.detail((await d.admin(['delegation', 'revoke', '--grant', grant])).trim());
  const heard = await r.rs.waitFor(/"msg":"revocation"[^\n]*/);
  d.detail(`resource server heard it on its feed: seq ${/"seq":(\d+)/.exec(heard)![1]}`);
  // B still holds its narrowed token and presents it; the resource server refuses it.
  d.detail(await r.a.waitFor(/^refused by [^\n]*/m));
  const { code } = await r.a.exited;
  if (code !== 2) throw new Error(`agent A exited with ${code}, expected 2 (refused):\n${r.a.stderr().slice(-2000)}`);
}

/** An examples/delegation program as a separate process, as `id` (see as-workload.ts), stopped at cleanup. */
function workload(d: DelegationDemo, program: string, id: string, env: Record<string, string>): Proc {
  const p = spawnTs(undefined, 'deploy/demo/as-workload.ts', [`examples/delegation/${program}`], {
    env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: `unix://${d.socket}`, DEMO_SPIFFE_ID: id, ...env },
  });
  d.scope.teardown(() => p.stop());
  return p;
}

const portOf = async (p: Proc) => Number(/"port":(\d+)/.exec(await p.waitFor(/"msg":"listening"[^\n]*"port":\d+/))![1]);

/** The scopes in the program's log line `msg` ({"msg":…,"scope":[…]}). */
const scopeLogged = async (p: Proc, msg: string) =>
  (JSON.parse(await p.waitFor(new RegExp(`(?<="msg":"${msg}"[^\\n]*"scope":)\\[[^\\]]*\\]`))) as string[]).join(' ');
