import test from 'ava';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustDomain } from '../../spiffe/id.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { pemToDer } from '../../spiffe/pem.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import { attestNewAgent, runCli, sharedScope, startServer, type TestServer } from '../helpers/server.ts';
import { createEntry } from '../helpers/agent-e2e.ts';
import { makeRootCa, writePem } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

/** The admin verbs added for SPIRE parity: counts, entry show filters, break-glass mints, federated bundles, healthcheck. */
const scope = sharedScope();
let srv: TestServer;
test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

const TD = TrustDomain.parse('example.org');
const json = <T>(s: string) => JSON.parse(s) as T;

test('entry count and agent count count what list lists, with the same filters; entry show filters without an ID', async (t) => {
  const a = await attestNewAgent(t, srv);
  await createEntry(srv, a.id, 'spiffe://example.org/count/one', ['unix:uid:7101']);
  await createEntry(srv, a.id, 'spiffe://example.org/count/two', ['unix:uid:7102', 'unix:gid:7']);
  const n = json<{ count: number }>((await srv.cli(['entry', 'count', '--parent-id', a.id, '--output', 'json'])).stdout);
  t.is(n.count, 2);
  const bySel = await srv.cli(['entry', 'count', '--selector', 'unix:gid:7', '--match', 'superset']);
  t.is(bySel.stdout.trim(), '1');
  const shown = json<{ spiffe_id: string }[]>((await srv.cli(['entry', 'show', '--spiffe-id', 'spiffe://example.org/count/two', '--output', 'json'])).stdout);
  t.deepEqual(shown.map((e) => e.spiffe_id), ['spiffe://example.org/count/two']);
  const none = await srv.cli(['entry', 'show']);
  t.is(none.code, 2);
  t.regex(none.stderr, /give an entry ID, or filter by --spiffe-id/);
  const agents = json<{ count: number }>((await srv.cli(['agent', 'count', '--attestation-type', 'join_token', '--output', 'json'])).stdout);
  t.true(agents.count >= 1);
});

test('x509 mint writes an SVID, its key (0600) and the bundle; the SVID verifies against the bundle', async (t) => {
  const dir = tempDir(t);
  const r = await srv.cli(['x509', 'mint', '--spiffe-id', 'spiffe://example.org/break-glass', '--ttl', '10m', '--write', dir, '--output', 'json']);
  t.is(r.code, 0, r.stderr);
  const out = json<{ expires_at: number }>(r.stdout);
  const now = Date.now() / 1000;
  t.true(out.expires_at > now + 500 && out.expires_at <= now + 601, 'ttl 10m');
  t.is(statSync(join(dir, 'svid.key')).mode & 0o777, 0o600);
  const chain = pemToDer(readFileSync(join(dir, 'svid.pem'), 'utf8'));
  const bundle = pemToDer(readFileSync(join(dir, 'bundle.pem'), 'utf8'));
  const v = verifyX509Svid(chain, { getX509BundleForTrustDomain: () => new X509Bundle(TD, bundle) });
  t.is(v.id.toString(), 'spiffe://example.org/break-glass');
  const other = await srv.cli(['x509', 'mint', '--spiffe-id', 'spiffe://elsewhere.org/x']);
  t.is(other.code, 1);
  t.regex(other.stderr, /not in trust domain example\.org/);
});

test('jwt mint prints a JWT-SVID that verifies against the bundle\'s JWT keys', async (t) => {
  const r = await srv.cli(['jwt', 'mint', '--spiffe-id', 'spiffe://example.org/bg', '--audience', 'svc', '--ttl', '2m']);
  t.is(r.code, 0, r.stderr);
  const jwks = (await srv.cli(['bundle', 'show', '--format', 'spiffe'])).stdout;
  const b = SpiffeBundle.parseJwks(TD, jwks);
  const svid = await verifyJwtSvid(r.stdout.trim(), { getJwtBundleForTrustDomain: () => b.jwtBundle() }, 'svc');
  t.is(svid.id.toString(), 'spiffe://example.org/bg');
  const noAud = await srv.cli(['jwt', 'mint', '--spiffe-id', 'spiffe://example.org/bg']);
  t.is(noAud.code, 2);
  t.regex(noAud.stderr, /--audience is required/);
});

test('bundle set stores another trust domain\'s bundle (PEM or SPIFFE); show --trust-domain prints it; our own is refused', async (t) => {
  const partner = await makeRootCa('partner.example');
  const dir = tempDir(t);
  const pem = writePem(dir, 'partner.pem', partner.certificate);
  const set = await srv.cli(['bundle', 'set', '--trust-domain', 'partner.example', '--path', pem, '--output', 'json']);
  t.is(set.code, 0, set.stderr);
  t.is(json<{ x509_authorities: number }>(set.stdout).x509_authorities, 1);
  const shown = await srv.cli(['bundle', 'show', '--trust-domain', 'partner.example']);
  t.deepEqual(pemToDer(shown.stdout).map((d) => Buffer.from(d).toString('hex')), [Buffer.from(partner.certificate).toString('hex')]);
  // The SPIFFE form round-trips through set.
  const jwksFile = join(dir, 'partner.json');
  writeFileSync(jwksFile, (await srv.cli(['bundle', 'show', '--trust-domain', 'partner.example', '--format', 'spiffe'])).stdout);
  t.is((await srv.cli(['bundle', 'set', '--trust-domain', 'partner.example', '--path', jwksFile])).code, 0);
  const own = await srv.cli(['bundle', 'set', '--trust-domain', 'example.org', '--path', pem]);
  t.is(own.code, 1);
  t.regex(own.stderr, /this server's own trust domain/);
  const leafAsCa = await srv.cli(['bundle', 'set', '--trust-domain', 'partner.example', '--path', join(dir, 'nothing.pem')]);
  t.is(leafAsCa.code, 2);
  t.regex(leafAsCa.stderr, /--path .*nothing\.pem/);
  const missing = await srv.cli(['bundle', 'show', '--trust-domain', 'nobody.example']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /no bundle for trust domain "nobody\.example"/);
  // list shows other trust domains only; delete removes one, and a second delete is NotFound.
  const listed = await srv.cli(['bundle', 'list', '--output', 'json']);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /partner\.example/);
  t.notRegex(listed.stdout, /"example\.org"/);
  const del = await srv.cli(['bundle', 'delete', '--trust-domain', 'partner.example']);
  t.is(del.code, 0, del.stderr);
  t.notRegex((await srv.cli(['bundle', 'list', '--output', 'json'])).stdout, /partner\.example/);
  const again = await srv.cli(['bundle', 'delete', '--trust-domain', 'partner.example']);
  t.is(again.code, 1);
  t.regex(again.stderr, /no bundle for trust domain "partner\.example"/);
});

test('healthcheck: exit 0 with the server up, 2 (usage) when there is no socket', async (t) => {
  const ok = await srv.cli(['healthcheck', '--output', 'json']);
  t.is(ok.code, 0, ok.stderr);
  t.true(json<{ healthy: boolean }>(ok.stdout).healthy);
  const none = await runCli(['healthcheck', '--socket', '/nonexistent/admin.sock']);
  t.is(none.code, 2);
  t.regex(none.stderr, /admin socket \/nonexistent\/admin\.sock does not exist/);
});

test('TTL flags take durations: token generate --ttl 2m', async (t) => {
  const tok = json<{ expires_at: number }>((await srv.cli(['token', 'generate', '--ttl', '2m', '--output', 'json'])).stdout);
  const now = Math.floor(Date.now() / 1000);
  t.true(tok.expires_at > now + 100 && tok.expires_at <= now + 121);
  const bad = await srv.cli(['token', 'generate', '--ttl', 'soon']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--ttl must be a duration/);
});
