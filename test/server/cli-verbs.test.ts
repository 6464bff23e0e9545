import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { attestJoinToken, runCli, sharedScope, startServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

const scope = sharedScope();
let srv: TestServer;
test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

const json = (s: string) => JSON.parse(s);

test('--help works on the program and on every verb', async (t) => {
  const top = await runCli(['--help']);
  t.is(top.code, 0);
  for (const verb of ['run', 'entry create', 'entry show', 'entry list', 'entry update', 'entry delete', 'token generate',
    'agent list', 'agent show', 'agent ban', 'agent evict', 'bundle show']) {
    t.true(top.stdout.includes(verb), verb);
  }
  const r = await runCli(['entry', 'create', '--help']);
  t.is(r.code, 0);
  for (const flag of ['--spiffe-id', '--parent-id', '--selector', '--x509-svid-ttl', '--jwt-svid-ttl', '--dns', '--hint',
    '--agent-model', '--agent-provider', '--agent-version', '--node', '--file', '--output', '--socket']) {
    t.true(r.stdout.includes(flag), flag);
  }
});

test('entry create, show, list, update and delete round-trip, as tables and as JSON', async (t) => {
  const parent = 'spiffe://example.org/tessera/agent/join_token/cli1';
  const c = await srv.cli(['entry', 'create', '--spiffe-id', 'spiffe://example.org/cli/a', '--parent-id', parent,
    '--selector', 'unix:uid:1000', '--selector', 'unix:gid:50', '--x509-svid-ttl', '600', '--jwt-svid-ttl', '60',
    '--dns', 'a.local', '--hint', 'primary', '--agent-model', 'm1', '--agent-provider', 'p1', '--agent-version', 'v1', '--output', 'json']);
  t.is(c.code, 0, c.stderr);
  const created = json(c.stdout)[0].entry;
  t.is(created.spiffe_id, 'spiffe://example.org/cli/a');
  t.is(created.x509_svid_ttl, 600);
  t.deepEqual(created.agent, { agent_model: 'm1', agent_provider: 'p1', agent_version: 'v1' });
  t.deepEqual(created.selectors.map((s: { type: string; value: string }) => `${s.type}:${s.value}`).sort(), ['unix:gid:50', 'unix:uid:1000']);

  const show = await srv.cli(['entry', 'show', created.id]);
  t.is(show.code, 0);
  t.regex(show.stdout, /SPIFFE ID\s+: spiffe:\/\/example\.org\/cli\/a/);

  const list = await srv.cli(['entry', 'list', '--parent-id', parent]);
  t.is(list.code, 0);
  t.regex(list.stdout, /^ID\s+SPIFFE ID\s+PARENT ID/);
  t.true(list.stdout.includes(created.id));
  const listJson = json((await srv.cli(['entry', 'list', '--spiffe-id', 'spiffe://example.org/cli/a', '--output', 'json'])).stdout);
  t.is(listJson.length, 1);

  const u = await srv.cli(['entry', 'update', created.id, '--x509-svid-ttl', '900', '--output', 'json']);
  t.is(u.code, 0, u.stderr);
  const updated = json(u.stdout)[0].entry;
  t.is(updated.x509_svid_ttl, 900);
  t.is(updated.revision, created.revision + 1);
  t.is(updated.hint, 'primary', 'fields not given are kept');

  const d = await srv.cli(['entry', 'delete', created.id]);
  t.is(d.code, 0);
  const gone = await srv.cli(['entry', 'show', created.id]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, /not found/);
});

test('entry create --node makes a node-alias entry parented by the server ID', async (t) => {
  const r = await srv.cli(['entry', 'create', '--node', '--spiffe-id', 'spiffe://example.org/nodes/rack1', '--selector', 'join_token:abc', '--output', 'json']);
  t.is(r.code, 0, r.stderr);
  t.is(json(r.stdout)[0].entry.parent_id, 'spiffe://example.org/tessera/server');
});

test('entry create --file creates a batch and reports each failure with a non-zero exit', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'entries.json');
  writeFileSync(file, JSON.stringify([
    { spiffe_id: 'spiffe://example.org/batch/1', parent_id: 'spiffe://example.org/tessera/agent/join_token/b', selectors: ['unix:uid:1'] },
    { spiffe_id: 'spiffe://example.org/batch/2', parent_id: 'spiffe://example.org/tessera/agent/join_token/b', selectors: [{ type: 'unix', value: 'uid:2' }] },
    { spiffe_id: 'spiffe://other.org/batch/3', parent_id: 'spiffe://example.org/tessera/agent/join_token/b', selectors: ['unix:uid:3'] },
  ]));
  const r = await srv.cli(['entry', 'create', '--file', file]);
  t.is(r.code, 1);
  t.regex(r.stderr, /item 3: spiffe_id/);
  t.regex(r.stdout, /batch\/1/);
  t.regex(r.stdout, /batch\/2/);
});

test('bad entry input is rejected naming the field; a duplicate is AlreadyExists', async (t) => {
  const parent = 'spiffe://example.org/tessera/agent/join_token/dup';
  const cases: [string[], RegExp][] = [
    [['--spiffe-id', 'spiffe://other.org/x', '--parent-id', parent, '--selector', 'unix:uid:1'], /spiffe_id/],
    [['--spiffe-id', 'not-an-id', '--parent-id', parent, '--selector', 'unix:uid:1'], /spiffe_id/],
    [['--spiffe-id', 'spiffe://example.org/x', '--parent-id', 'spiffe://example.org/..', '--selector', 'unix:uid:1'], /parent_id/],
    [['--spiffe-id', 'spiffe://example.org/x', '--parent-id', parent, '--selector', 'unix:uid:1', '--x509-svid-ttl', '5'], /x509_svid_ttl/],
    [['--spiffe-id', 'spiffe://example.org/x', '--parent-id', parent, '--selector', 'unix:uid:1', '--jwt-svid-ttl', '99999999'], /jwt_svid_ttl/],
  ];
  for (const [args, field] of cases) {
    const r = await srv.cli(['entry', 'create', ...args, '--output', 'json']);
    t.is(r.code, 1, args.join(' '));
    const res = json(r.stdout)[0];
    t.is(res.status.code, 3, `${args.join(' ')}: InvalidArgument`);
    t.regex(res.status.message, field);
  }
  const missing = await srv.cli(['entry', 'create', '--spiffe-id', 'spiffe://example.org/x', '--parent-id', parent]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--selector is required/);

  const ok = ['entry', 'create', '--spiffe-id', 'spiffe://example.org/dup', '--parent-id', parent, '--selector', 'unix:uid:7'];
  t.is((await srv.cli(ok)).code, 0);
  const dup = await srv.cli([...ok, '--output', 'json']);
  t.is(dup.code, 1);
  t.is(json(dup.stdout)[0].status.code, 6);
  t.regex(json(dup.stdout)[0].status.message, /already exists/);
});

test('token generate prints a token; --output json gives token and expires_at', async (t) => {
  const r = await srv.cli(['token', 'generate', '--ttl', '120', '--output', 'json']);
  t.is(r.code, 0);
  const tok = json(r.stdout);
  t.regex(tok.token, /^[0-9a-f]{32}$/);
  const now = Math.floor(Date.now() / 1000);
  t.true(tok.expires_at > now + 100 && tok.expires_at <= now + 121);
  const table = await srv.cli(['token', 'generate']);
  t.regex(table.stdout, /^Token: [0-9a-f]{32}/);
});

test('agent list, show, ban and evict', async (t) => {
  const a = await attestJoinToken(srv, await srv.joinToken());
  t.teardown(() => a.client.close());
  const list = await srv.cli(['agent', 'list']);
  t.is(list.code, 0);
  t.true(list.stdout.includes(a.id));
  t.regex(list.stdout, /^SPIFFE ID\s+METHOD\s+BANNED/);
  const show = json((await srv.cli(['agent', 'show', a.id, '--output', 'json'])).stdout);
  t.is(show.spiffe_id, a.id);
  t.false(show.banned);
  const ban = await srv.cli(['agent', 'ban', a.id]);
  t.is(ban.code, 0);
  t.regex(ban.stdout, /banned/);
  const banned = json((await srv.cli(['agent', 'list', '--banned', '--output', 'json'])).stdout);
  t.true(banned.some((x: { spiffe_id: string }) => x.spiffe_id === a.id));
  t.is((await srv.cli(['agent', 'evict', a.id])).code, 0);
  const again = await srv.cli(['agent', 'evict', a.id, '--output', 'json']);
  t.is(again.code, 1);
  t.is(json(again.stderr).code, 'ERR_AGENT_NOT_FOUND');
});

test('bundle show prints PEM by default and SPIFFE JWKS with --format jwks', async (t) => {
  const pem = await srv.cli(['bundle', 'show']);
  t.is(pem.code, 0);
  t.is(pem.stdout.trim(), srv.bundlePem.trim());
  t.true(new X509Certificate(pem.stdout).ca);
  const jwks = json((await srv.cli(['bundle', 'show', '--format', 'jwks'])).stdout);
  const x509 = jwks.keys.filter((k: { use: string }) => k.use === 'x509-svid');
  const jwt = jwks.keys.filter((k: { use: string }) => k.use === 'jwt-svid');
  t.is(x509.length, 1);
  t.is(x509[0].x5c.length, 1);
  t.false('kid' in x509[0]);
  t.is(jwt.length, 1);
  t.truthy(jwt[0].kid);
  t.true(jwks.spiffe_sequence >= 1);
  t.is(jwks.spiffe_refresh_hint, 300);
});

test('a missing admin socket gives a clear error and a non-zero exit', async (t) => {
  const r = await runCli(['entry', 'list', '--socket', '/nonexistent/admin.sock']);
  t.is(r.code, 2);
  t.regex(r.stderr, /admin socket \/nonexistent\/admin\.sock does not exist/);
});

test('an unknown command or flag exits 2 with a message', async (t) => {
  const r = await runCli(['entry', 'frobnicate']);
  t.not(r.code, 0);
  const f = await runCli(['entry', 'list', '--nope']);
  t.is(f.code, 2);
  t.regex(f.stderr, /nope/);
});
