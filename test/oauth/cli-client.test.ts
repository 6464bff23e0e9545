import test from 'ava';
import { sharedScope, startServer, type TestServer } from '../helpers/server.ts';

/**
 * `tessera-server client create|list|show|delete` against a real server process (the
 * ClientAdmin service on its admin socket): workload and public clients, JSON output,
 * and refusals that name the field.
 */
const scope = sharedScope();
let srv: TestServer;

test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

const json = async (args: string[]) => {
  const r = await srv.cli([...args, '--output', 'json']);
  if (r.code !== 0) throw new Error(`tessera-server ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

test('create, show, list and delete a workload client and a public client (--output json)', async (t) => {
  const agent = await json(['client', 'create', '--client-id', 'spiffe://example.org/agents/researcher', '--name', 'Research agent',
    '--redirect-uri', 'https://agent.example.org/cb', '--redirect-uri', 'http://127.0.0.1:8976/cb', '--auth-method', 'spiffe_jwt']);
  t.like(agent, {
    client_id: 'spiffe://example.org/agents/researcher', name: 'Research agent', auth_method: 'spiffe_jwt', registered_by: 'admin',
    redirect_uris: ['https://agent.example.org/cb', 'http://127.0.0.1:8976/cb'],
  });
  t.true(agent.created_at > 0);
  const app = await json(['client', 'create', 'https://app.example.com/client', '--redirect-uri', 'https://app.example.com/cb']);
  t.is(app.auth_method, 'none', 'a URL client is public by default');
  const cc = await json(['client', 'create', '--client-id', 'spiffe://example.org/agents/indexer']);
  t.is(cc.auth_method, 'tls_client_auth', 'a SPIFFE ID client defaults to its X.509-SVID');
  t.deepEqual(cc.redirect_uris, [], 'client credentials only: no redirect URI needed');

  t.deepEqual(await json(['client', 'show', 'spiffe://example.org/agents/researcher']), agent);
  const listed = await json(['client', 'list']) as { client_id: string }[];
  t.deepEqual(listed.map((c) => c.client_id), ['https://app.example.com/client', 'spiffe://example.org/agents/indexer', 'spiffe://example.org/agents/researcher']);

  t.deepEqual(await json(['client', 'delete', 'https://app.example.com/client', '--client-id', 'spiffe://example.org/agents/indexer']),
    [{ client_id: 'spiffe://example.org/agents/indexer' }, { client_id: 'https://app.example.com/client' }]);
  const after = await json(['client', 'list']) as { client_id: string }[];
  t.deepEqual(after.map((c) => c.client_id), ['spiffe://example.org/agents/researcher']);

  const table = await srv.cli(['client', 'show', '--client-id', 'spiffe://example.org/agents/researcher']);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /Auth method\s+: spiffe_jwt/);
  t.regex(table.stdout, /Redirect URI\s+: https:\/\/agent\.example\.org\/cb/);
});

test('refusals name the field and the rule', async (t) => {
  const fail = async (args: string[], code: number, stderr: RegExp) => {
    const r = await srv.cli(args);
    t.is(r.code, code, `${args.join(' ')}: ${r.stdout}`);
    t.regex(r.stderr, stderr);
  };
  await fail(['client', 'create', '--client-id', 'spiffe://example.org/agents/x', '--auth-method', 'none'], 1,
    /auth_method: none is not allowed for spiffe:\/\/example\.org\/agents\/x: a SPIFFE ID client proves its identity/);
  await fail(['client', 'create', '--client-id', 'https://app.example.com/c2', '--redirect-uri', 'https://app.example.com/cb', '--auth-method', 'tls_client_auth'], 1,
    /auth_method: tls_client_auth is not possible for https:\/\/app\.example\.com\/c2: only a SPIFFE ID client authenticates with an SVID/);
  await fail(['client', 'create', '--client-id', 'https://app.example.com/c3'], 1, /redirect_uris: a public client needs at least one redirect URI/);
  await fail(['client', 'create', '--client-id', 'http://app.example.com/c4', '--redirect-uri', 'https://app.example.com/cb'], 1,
    /client_id: "http:\/\/app\.example\.com\/c4" must be a SPIFFE ID or an https URL \(http only on loopback\)/);
  await fail(['client', 'create', '--client-id', 'spiffe://example.org/agents/y', '--redirect-uri', 'http://evil.example.com/cb'], 1,
    /redirect_uris\[0\]: redirect URI http:\/\/evil\.example\.com\/cb must use https/);
  await fail(['client', 'create', '--client-id', 'spiffe://example.org/agents/z', '--auth-method', 'client_secret_basic'], 2,
    /--auth-method must be one of tls_client_auth, spiffe_jwt, none, got "client_secret_basic" \(there are no client secrets\)/);
  await fail(['client', 'create', '--client-id', 'spiffe://example.org'], 1, /client_id: "spiffe:\/\/example\.org" names a trust domain, not a workload/);
  await fail(['client', 'show', 'spiffe://example.org/agents/nobody'], 1, /OAuth client "spiffe:\/\/example\.org\/agents\/nobody" not found/);

  t.is((await srv.cli(['client', 'create', '--client-id', 'spiffe://example.org/agents/dup'])).code, 0);
  const dup = await srv.cli(['client', 'create', '--client-id', 'spiffe://example.org/agents/dup', '--output', 'json']);
  t.is(dup.code, 1);
  t.like(JSON.parse(dup.stderr), { code: 'ERR_CLIENT_EXISTS' });
});

test('--help documents every flag, and that there are no client secrets', async (t) => {
  const r = await srv.cli(['client', 'create', '--help']);
  t.is(r.code, 0, r.stderr);
  for (const flag of ['--client-id', '--redirect-uri', '--auth-method', '--name', '--output']) t.true(r.stdout.includes(flag), flag);
  t.regex(r.stdout, /There are no client secrets/);
  const group = await srv.cli(['client', '--help']);
  t.is(group.code, 0);
  t.regex(group.stdout, /client create[\s\S]*client list[\s\S]*client show[\s\S]*client delete/);
});
