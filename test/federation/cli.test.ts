import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, sharedScope, startServer, type TestServer } from '../helpers/server.ts';
import { makeRootCa, toPem } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/wait.ts';

/**
 * `tessera-server federation create|list|show|update|delete|refresh` against a real
 * server with one relationship from its config file: parameters are checked where they
 * enter, config relationships are read-only through the CLI, failures name their code.
 */
const scope = sharedScope();
let srv: TestServer;
const UNREACHABLE = 'https://127.0.0.1:9/bundle';
test.before(async () => {
  srv = await startServer(scope, {
    trustDomain: 'a.test',
    config: { federation: { retry_initial: 0.2, federates_with: [{ trust_domain: 'c.test', bundle_endpoint_url: UNREACHABLE, bundle_endpoint_profile: 'https_web' }] } },
  });
});
test.after.always(() => scope.cleanup());

const json = (s: string) => JSON.parse(s);
const errOf = (stderr: string) => json(stderr.trim().split('\n').pop()!) as { error: string; code: string };

test('every federation verb has --help', async (t) => {
  const top = await runCli(['--help']);
  for (const verb of ['create', 'update', 'list', 'show', 'delete', 'refresh']) {
    t.true(top.stdout.includes(`federation ${verb}`), verb);
    const r = await runCli(['federation', verb, '--help']);
    t.is(r.code, 0, verb);
    t.true(r.stdout.includes('--output'), `${verb} --output`);
  }
  t.regex((await runCli(['federation', 'create', '--help'])).stdout, /--bundle-endpoint-profile[\s\S]*--endpoint-spiffe-id[\s\S]*--trust-domain-bundle-path/);
});

test('create refuses bad parameters, each with a message naming the field', async (t) => {
  const create = (...args: string[]) => srv.cli(['federation', 'create', '--output', 'json', ...args]);
  const cases: [string[], RegExp][] = [
    [['--trust-domain', 'b.test', '--bundle-endpoint-url', 'http://b.test/', '--bundle-endpoint-profile', 'https_web'], /bundle_endpoint_url: .*must be an https URL/],
    [['--trust-domain', 'b.test', '--bundle-endpoint-url', 'https://u:p@b.test/', '--bundle-endpoint-profile', 'https_web'], /must not contain userinfo/],
    [['--trust-domain', 'a.test', '--bundle-endpoint-url', 'https://b.test/', '--bundle-endpoint-profile', 'https_web'], /own trust domain/],
    [['--trust-domain', 'b.test:443', '--bundle-endpoint-url', 'https://b.test/', '--bundle-endpoint-profile', 'https_web'], /trust_domain: .*port/],
    [['--trust-domain', 'b.test', '--bundle-endpoint-url', 'https://b.test/', '--bundle-endpoint-profile', 'https_spiffe'], /endpoint_spiffe_id: is required/],
    [['--trust-domain', 'b.test', '--bundle-endpoint-url', 'https://b.test/', '--bundle-endpoint-profile', 'https_web', '--endpoint-spiffe-id', 'spiffe://b.test/x'], /only for the https_spiffe profile/],
  ];
  for (const [args, message] of cases) {
    const r = await create(...args);
    t.is(r.code, 1, args.join(' '));
    t.like(errOf(r.stderr), { code: 'ERR_FEDERATION_INVALID' });
    t.regex(errOf(r.stderr).error, message);
  }
  const usage = await create('--trust-domain', 'b.test', '--bundle-endpoint-url', 'https://b.test/');
  t.is(usage.code, 2, 'a missing profile is a usage error: it is never inferred');
  t.regex(usage.stderr, /--bundle-endpoint-profile is required/);
});

test('create, list, show, refresh, update and delete round-trip; the bootstrap bundle is a stored bundle', async (t) => {
  const ca = await makeRootCa('b.test');
  const file = join(tempDir(t, 'tfc-'), 'b.pem');
  writeFileSync(file, toPem(ca.root));
  const c = await srv.cli(['federation', 'create', 'b.test', '--output', 'json', '--bundle-endpoint-url', UNREACHABLE,
    '--bundle-endpoint-profile', 'https_spiffe', '--endpoint-spiffe-id', 'spiffe://b.test/tessera/server', '--trust-domain-bundle-path', file]);
  t.is(c.code, 0, c.stderr);
  t.like(json(c.stdout), { trust_domain: 'b.test', source: 'api', bundle: { x509_authorities: 1 } });
  const again = await srv.cli(['federation', 'create', 'b.test', '--output', 'json', '--bundle-endpoint-url', UNREACHABLE, '--bundle-endpoint-profile', 'https_web']);
  t.is(errOf(again.stderr).code, 'ERR_FEDERATION_EXISTS');

  const bundles = json((await srv.cli(['bundle', 'list', '--output', 'json'])).stdout) as { trust_domain: string }[];
  t.true(bundles.some((b) => b.trust_domain === 'b.test'), 'bundle list shows the bootstrap bundle');
  const list = json((await srv.cli(['federation', 'list', '--output', 'json'])).stdout) as { trust_domain: string; source: string }[];
  t.deepEqual(list.map((r) => [r.trust_domain, r.source]), [['b.test', 'api'], ['c.test', 'config']]);

  // The endpoint is unreachable: refresh says so, the loop records it, the stored bundle stays.
  const refresh = await srv.cli(['federation', 'refresh', 'b.test', '--output', 'json']);
  t.is(refresh.code, 1);
  t.like(errOf(refresh.stderr), { code: 'ERR_FEDERATION_UNREACHABLE' });
  const shown = await until(async () => {
    const s = json((await srv.cli(['federation', 'show', 'b.test', '--output', 'json'])).stdout);
    return s.status?.last_error_code ? s : undefined;
  }, 'the fetch failure in federation show');
  t.is(shown.status.last_error_code, 'ERR_FEDERATION_UNREACHABLE');
  t.is(shown.bundle.x509_authorities, 1, 'the stored bundle is kept');
  t.regex((await srv.cli(['federation', 'show', 'b.test'])).stdout, /Last error\s+: ERR_FEDERATION_UNREACHABLE/);

  const u = await srv.cli(['federation', 'update', 'b.test', '--output', 'json', '--bundle-endpoint-url', 'https://127.0.0.1:9/other', '--bundle-endpoint-profile', 'https_web']);
  t.is(u.code, 0, u.stderr);
  t.like(json(u.stdout), { bundle_endpoint_url: 'https://127.0.0.1:9/other', bundle_endpoint_profile: 'https_web', endpoint_spiffe_id: '' });

  const kept = await srv.cli(['federation', 'delete', 'b.test', '--keep-bundle', '--output', 'json']);
  t.deepEqual(json(kept.stdout), { trust_domain: 'b.test', bundle_deleted: false });
  t.is((await srv.cli(['bundle', 'show', '--trust-domain', 'b.test'])).code, 0, 'kept');
  t.is(errOf((await srv.cli(['federation', 'show', 'b.test', '--output', 'json'])).stderr).code, 'ERR_FEDERATION_NOT_FOUND');
  await srv.cli(['federation', 'create', 'b.test', '--bundle-endpoint-url', UNREACHABLE, '--bundle-endpoint-profile', 'https_web']);
  const gone = await srv.cli(['federation', 'delete', 'b.test', '--output', 'json']);
  t.deepEqual(json(gone.stdout), { trust_domain: 'b.test', bundle_deleted: true });
  t.not((await srv.cli(['bundle', 'show', '--trust-domain', 'b.test'])).code, 0, 'deleted with the relationship');
});

test('relationships from the config file are listed but cannot be changed through the CLI', async (t) => {
  const show = json((await srv.cli(['federation', 'show', 'c.test', '--output', 'json'])).stdout);
  t.like(show, { trust_domain: 'c.test', source: 'config', bundle_endpoint_profile: 'https_web' });
  for (const args of [['delete', 'c.test'], ['update', 'c.test', '--bundle-endpoint-url', 'https://c.test/', '--bundle-endpoint-profile', 'https_web']]) {
    const r = await srv.cli(['federation', ...args, '--output', 'json']);
    t.is(r.code, 1);
    t.like(errOf(r.stderr), { code: 'ERR_FEDERATION_FROM_CONFIG' });
  }
});
