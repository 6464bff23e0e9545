import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { loginWithCode } from '../helpers/oidc-flow.ts';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/oidc-provider.ts';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { postgresTestDatabase, sharedScope, startServer, type Scope, type TestServer } from '../helpers/server.ts';

/**
 * examples/delegation/ for real (issue 12): a tessera-server process with the `oauth`
 * section trusting a real OpenID Provider, delegation policies created with the CLI, a
 * tessera-agent process, and agent A, sub-agents B (and C) and the resource server as
 * separate processes under their own uids, each with its own SVID from the Workload
 * API. The user's ID token comes from the OP's authorization-code flow.
 *
 *   user alice ─ID token→ A ─delegated token (files:read review:post)→ B ─narrower token (files:read)→ resource server
 */
const TD = 'example.org';
const AUDIENCE = 'https://files.example.org';
const ID = {
  a: `spiffe://${TD}/agents/planner`,
  b: `spiffe://${TD}/agents/reviewer`,
  c: `spiffe://${TD}/agents/summarizer`,
  rs: `spiffe://${TD}/services/files`,
};
/** Workload uids (the test runs as root); the agent tells the processes apart by them. */
const UID = { a: 1201, b: 1202, c: 1203, rs: 1204 };
const USERS = [{ sub: 'alice', groups: ['eng'] }, { sub: 'carol', groups: ['eng'] }];

interface Deployment {
  op: OpenIdProvider;
  srv: TestServer;
  agent: TestAgent;
  tokenEndpoint: string;
  /** Starts the resource server fed by `feedFrom` (default the first server); resolves with its URL. */
  resourceServer(scope: Scope, feedFrom?: TestServer): Promise<{ proc: Proc; url: string }>;
  /** Starts a sub-agent under `who`'s uid taking tasks from `parent`; resolves with its URL. */
  subAgent(scope: Scope, who: 'b' | 'c', parent: string, next: { resource: string } | { subAgent: string; id: string }): Promise<{ proc: Proc; url: string }>;
  /** Runs agent A for `user` against the sub-agent at `url`. */
  agentA(scope: Scope, user: string, subAgentUrl: string, o?: { count?: number; subAgentId?: string }): Promise<Proc>;
}

const oauthAddress = (s: TestServer) => readFileSync(join(s.dataDir, 'oauth.addr'), 'utf8').trim();
const portOf = async (p: Proc) => Number(/"port":(\d+)/.exec(await p.waitFor(/"msg":"listening".*"port":\d+/, 90_000))![1]);

const oauthConfig = (op: OpenIdProvider) => ({
  listen: '127.0.0.1:0', trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
});

/** Server (unless given), agent, entries and policies; the example processes start on demand. */
async function deploy(scope: Scope, o: { op?: OpenIdProvider; server?: TestServer; issuer?: string } = {}): Promise<Deployment> {
  const op = o.op ?? await startOpenIdProvider(scope, { users: USERS });
  const srv = o.server ?? await startServer(scope, { config: { oauth: oauthConfig(op) } });
  const issuer = o.issuer ?? `https://${oauthAddress(srv)}`;
  const tokenEndpoint = `https://${oauthAddress(srv)}/oauth2/token`;
  const agent = await startAgent(scope, { server: srv, logLevel: 'info' });
  const model = (m: string) => ['--agent-model', m, '--agent-provider', 'anthropic'];
  await createEntry(srv, agent.spiffeId, ID.a, [`unix:uid:${UID.a}`], model('planner-1'));
  await createEntry(srv, agent.spiffeId, ID.b, [`unix:uid:${UID.b}`], model('reviewer-1'));
  await createEntry(srv, agent.spiffeId, ID.c, [`unix:uid:${UID.c}`], model('summarizer-1'));
  await createEntry(srv, agent.spiffeId, ID.rs, [`unix:uid:${UID.rs}`]);

  // The policies, as an operator writes them.
  const policy = async (args: string[]) => {
    const r = await srv.cli(['delegation', 'create', '--issuer', op.issuer, '--audience', AUDIENCE, ...args]);
    if (r.code !== 0) throw new Error(`delegation create failed: ${r.stderr}`);
  };
  await policy(['--id', 'pol_planner', '--actor', ID.a, '--group', 'eng', '--scope', 'files:read', '--scope', 'review:post',
    '--max-ttl', '5m', '--max-depth', '2', '--may-delegate-to', ID.b]);
  await policy(['--id', 'pol_reviewer', '--actor', ID.b, '--scope', 'files:read', '--max-depth', '2', '--may-delegate-to', ID.c]);
  await policy(['--id', 'pol_summarizer', '--actor', ID.c, '--scope', 'files:read', '--max-depth', '3']);

  const run = (scope: Scope, script: string, who: keyof typeof UID, env: Record<string, string>) => {
    const p = spawnTs(undefined, `examples/delegation/${script}`, [], {
      uid: UID[who], gid: UID[who],
      env: { ...process.env, HOME: tmpdir(), SPIFFE_ENDPOINT_SOCKET: agent.endpoint, ...env },
    });
    scope.teardown(() => p.stop());
    return p;
  };
  return {
    op, srv, agent, tokenEndpoint,
    async resourceServer(scope, feedFrom = srv) {
      const proc = run(scope, 'resource-server.ts', 'rs', {
        ISSUER: issuer, TESSERA_URL: `https://${oauthAddress(feedFrom)}`, AUDIENCE, REQUIRED_SCOPE: 'files:read',
        ACTORS: `spiffe://${TD}/agents/*`, MAX_DEPTH: '2', PORT: '0',
      });
      return { proc, url: `https://127.0.0.1:${await portOf(proc)}/files` };
    },
    async subAgent(scope, who, parent, next) {
      const proc = run(scope, 'sub-agent.ts', who, {
        PORT: '0', PARENT_ID: parent, TOKEN_ENDPOINT: tokenEndpoint, AUDIENCE, SCOPE: 'files:read',
        ...('resource' in next ? { RESOURCE_URL: next.resource, RESOURCE_ID: ID.rs } : { NEXT_URL: next.subAgent, NEXT_ID: next.id }),
      });
      return { proc, url: `https://127.0.0.1:${await portOf(proc)}` };
    },
    async agentA(scope, user, subAgentUrl, a = {}) {
      const { idToken } = await loginWithCode(op, { user });
      return run(scope, 'agent-a.ts', 'a', {
        USER_TOKEN: idToken, TOKEN_ENDPOINT: tokenEndpoint, AUDIENCE, SCOPE: 'files:read review:post',
        SUB_AGENT_URL: subAgentUrl, SUB_AGENT_ID: a.subAgentId ?? ID.b, COUNT: String(a.count ?? 1), INTERVAL_MS: '100',
      });
    },
  };
}

const answerFor = (op: OpenIdProvider, user: string) => `user ${op.issuer}#${user} via ${ID.a} via ${ID.b}, scope files:read`;

/**
 * Runs A with many tasks, waits for the first answer, revokes with `revokeArgs(grantId)`
 * through the CLI of `revokeOn`, and waits (bounded) until A reports the resource
 * server's refusal of B's cached token.
 */
async function revokeWhileWorking(t: ExecutionContext, d: Deployment, rs: { proc: Proc }, b: { url: string }, user: string,
  revokeOn: TestServer, revokeArgs: (grantId: string) => string[]): Promise<void> {
  const served = () => rs.proc.stderr().split('\n').filter((l) => l.includes('"msg":"served"') && l.includes(`#${user} via`));
  const before = served().length;
  const a = await d.agentA(t, user, b.url, { count: 100_000 });
  await a.waitFor(new RegExp(escape(answerFor(d.op, user))), 90_000);
  // The resource server's log of this A's first request (its pipe may lag behind A's).
  const line = await until('the resource server to log the request', () => served()[before], 60_000);
  const grantId = (JSON.parse(line) as { grant_id: string }).grant_id;
  const r = await revokeOn.cli(['delegation', 'revoke', ...revokeArgs(grantId)]);
  t.is(r.code, 0, r.stderr);
  // A keeps sending tasks; B keeps presenting its cached narrowed token: the resource server refuses it once the feed delivers.
  const refused = await a.waitFor(/refused by [^\n]*/, 60_000);
  t.regex(refused, /^refused by resource server: 401 ERR_DELEGATION_REVOKED: delegated token tok_[\w-]+ is revoked \((grant|subject) /);
  t.is((await a.exited).code, 2);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ------------------------------------------------------------------ one server (SQLite)

const scope = sharedScope();
let d: Deployment;
let rs: { proc: Proc; url: string };
let b: { proc: Proc; url: string };

test.before(async (t) => {
  t.timeout(300_000);
  d = await deploy(scope);
  rs = await d.resourceServer(scope);
  b = await d.subAgent(scope, 'b', ID.a, { resource: rs.url });
});
test.after.always(() => scope.cleanup());

test.serial('user → agent A → sub-agent B → resource server: the answer names the user, both agents and the narrowed scope', async (t) => {
  t.timeout(180_000);
  const a = await d.agentA(t, 'alice', b.url);
  const exit = await a.exited;
  t.is(exit.code, 0, a.stderr());
  t.is(a.stdout().trim(), answerFor(d.op, 'alice'));
  t.regex(a.stderr(), /"msg":"delegated token","scope":\["files:read","review:post"\]/);
  t.regex(b.proc.stderr(), /"msg":"narrowed token","scope":\["files:read"\]/);
  t.regex(rs.proc.stderr(), new RegExp(`"msg":"served","answer":"${escape(answerFor(d.op, 'alice'))}","jti":"tok_[\\w-]+","grant_id":"grt_[\\w-]+"`));
});

test.serial('revoking the grant (CLI --grant) makes the resource server refuse B\'s token', async (t) => {
  t.timeout(240_000);
  await revokeWhileWorking(t, d, rs, b, 'alice', d.srv, (grant) => ['--grant', grant]);
  t.regex(rs.proc.stderr(), /"msg":"revocation","seq":\d+,"kind":"grant","value":"grt_/);
});

test.serial('a third hop is refused by policy: first the depth, then may_delegate_to', async (t) => {
  t.timeout(240_000);
  // A → B' → C: B' hands its token on to C instead of calling the resource server.
  const c = await d.subAgent(t, 'c', ID.b, { resource: rs.url });
  const b2 = await d.subAgent(t, 'b', ID.a, { subAgent: c.url, id: ID.c });
  const a = await d.agentA(t, 'alice', b2.url);
  t.is((await a.exited).code, 2, a.stderr());
  t.is(a.stdout().trim(), `refused by authorization server (exchange by ${ID.c}): 403 ERR_OAUTH_INVALID_GRANT: delegation depth 3 > max 2: `
    + `policy pol_reviewer (which lets ${ID.b} delegate to ${ID.c}) allows max_depth 2`);

  // Deeper chains allowed, but B may no longer delegate to anyone.
  const r = await d.srv.cli(['delegation', 'update', 'pol_reviewer', '--max-depth', '3', '--clear', 'may-delegate-to']);
  t.is(r.code, 0, r.stderr);
  const line = await waitForRefusal(() => d.agentA(t, 'alice', b2.url), /may not delegate/);
  t.is(line, `refused by authorization server (exchange by ${ID.c}): 403 ERR_OAUTH_INVALID_GRANT: ${ID.b} may not delegate to ${ID.c}: `
    + 'policy pol_reviewer allows delegating to no one');
});

test.serial('revoking the user (CLI --subject) makes the resource server refuse B\'s token', async (t) => {
  t.timeout(240_000);
  await revokeWhileWorking(t, d, rs, b, 'carol', d.srv, () => ['--subject', `${d.op.issuer}#carol`]);
  t.regex(rs.proc.stderr(), new RegExp(`"msg":"revocation","seq":\\d+,"kind":"subject","value":"${escape(d.op.issuer)}#carol"`));
});

/** Runs A (a fresh process each time) until its refusal matches `want`; the policy cache applies an update asynchronously. */
async function waitForRefusal(start: () => Promise<Proc>, want: RegExp): Promise<string> {
  const end = Date.now() + 120_000;
  for (;;) {
    const a = await start();
    await a.exited;
    const line = a.stdout().trim();
    if (want.test(line) || Date.now() > end) return line;
  }
}

// ------------------------------------------------------------------ two servers, one PostgreSQL

test.serial('two servers on one PostgreSQL: a revocation through server 1 reaches the resource server fed by server 2', async (t) => {
  t.timeout(300_000);
  const url = await postgresTestDatabase(t, 'tessera_e2e_deleg');
  if (!url) { t.pass('skipped: no PostgreSQL'); return; }
  const op = await startOpenIdProvider(t, { users: USERS });
  const issuer = 'https://tessera.example.org'; // one name for both servers; each is reached at its own address
  const config = { datastore: { kind: 'postgres', connection: url }, oauth: { ...oauthConfig(op), issuer } };
  const s1 = await startServer(t, { config });
  const s2 = await startServer(t, { config });
  // Each verifies the other's SVIDs once the shared bundle carries both CAs.
  await until('both CAs in both bundles', () => s1.readBundle().der.length === 2 && s2.readBundle().der.length === 2, 90_000);
  const ha = await deploy(t, { op, server: s1, issuer });
  const haRs = await ha.resourceServer(t, s2);
  const haB = await ha.subAgent(t, 'b', ID.a, { resource: haRs.url });
  await revokeWhileWorking(t, ha, haRs, haB, 'alice', s1, (grant) => ['--grant', grant]);
  t.regex(haRs.proc.stderr(), /"msg":"revocation","seq":\d+,"kind":"grant","value":"grt_/, 'heard on server 2\'s feed');
});
