import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseServerConfig } from '../../server/config.ts';
import { spawnTs } from '../helpers/proc.ts';
import { runCli } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

test('defaults: agent API 0.0.0.0:8081, X.509-SVID 1h, JWT-SVID 5m, CA 24h, sqlite, admin socket under the data dir', (t) => {
  const c = parseServerConfig({ trust_domain: 'Example.ORG' });
  t.is(c.trust_domain.name, 'example.org');
  t.is(c.agent_api.listen, '0.0.0.0:8081');
  t.is(c.svid.x509_ttl, 3600);
  t.is(c.svid.jwt_ttl, 300);
  t.is(c.svid.agent_ttl, 3600);
  t.is(c.ca.ttl, 86400);
  t.is(c.datastore.kind, 'sqlite');
  t.is(c.adminSocket, '/var/lib/tessera/server/admin/admin.sock');
  t.deepEqual(Object.keys(c.node_attestors), ['join_token']);
});

test('config errors name the key', (t) => {
  const cases: [unknown, RegExp][] = [
    [{}, /trust_domain: is required/],
    [{ trust_domain: 'example.org', bogus: 1 }, /bogus: unknown key/],
    [{ trust_domain: 'example.org', svid: { x509_ttl: 'soon' } }, /svid\.x509_ttl: must be a duration/],
    [{ trust_domain: 'example.org', agent_api: { listen: 'nope' } }, /agent_api\.listen/],
    [{ trust_domain: 'example.org', datastore: { kind: 'mysql' } }, /datastore\.kind: must be one of/],
    [{ trust_domain: 'example.org', datastore: { kind: 'postgres' } }, /datastore\.connection: is required/],
    [{ trust_domain: 'bad domain' }, /trust_domain/],
    [{ trust_domain: 'example.org', node_attestors: { carrier_pigeon: {} } }, /node_attestors\.carrier_pigeon: unknown node attestor/],
    [{ trust_domain: 'example.org', ca: { ttl: '1h' }, svid: { x509_ttl: '2h' } }, /svid\.x509_ttl: must be shorter than ca\.ttl/],
  ];
  for (const [raw, re] of cases) {
    const e = t.throws(() => parseServerConfig(raw), undefined, JSON.stringify(raw));
    t.regex(e!.message, re);
  }
});

test('tessera-server run with an unknown config key exits non-zero naming the key', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'server.yaml');
  writeFileSync(path, `trust_domain: example.org\ndata_dir: ${dir}\nagent_api:\n  listen: 127.0.0.1:0\n  lisen: 1\n`);
  const r = await runCli(['run', '--config', path]);
  t.is(r.code, 1);
  t.regex(r.stderr, /agent_api\.lisen: unknown key/);
});

test('tessera-server run with a missing config file says so', async (t) => {
  const r = await runCli(['run', '--config', '/nonexistent/server.yaml']);
  t.is(r.code, 1);
  t.regex(r.stderr, /cannot read \/nonexistent\/server\.yaml/);
});

test('tessera-server run --output json prints the agent API address, admin socket and CA fingerprint as JSON', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'server.yaml');
  writeFileSync(path, `trust_domain: example.org\ndata_dir: ${join(dir, 'data')}\nagent_api:\n  listen: 127.0.0.1:0\n`);
  const proc = spawnTs(t, 'server/cli/main.ts', ['run', '--config', path, '--output', 'json']);
  await proc.waitFor(/"ca_fingerprint": "[0-9a-f]{64}"\n\}/, 60_000);
  const out = JSON.parse(proc.stdout()) as { agent_api: string; admin_socket: string; ca_fingerprint: string };
  t.regex(out.agent_api, /^127\.0\.0\.1:\d+$/);
  t.is(out.admin_socket, join(dir, 'data', 'admin', 'admin.sock'));
  await proc.stop();
});
