import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliIO } from '../../common/cli.ts';
import { ConfigValidationError } from '../../common/config.ts';
import { checkServerConfigFile, parseServerConfig, serverAdminSocket, serverMetricsTarget } from '../../server/config.ts';
import { applyOverrides, checkAgentConfigFile, parseAgentConfig } from '../../node-agent/config.ts';
import { configCommands as serverConfigCommands } from '../../server/cli/config.ts';
import { configCommands as agentConfigCommands } from '../../node-agent/cli/config.ts';
import { CONFIG_DOC, renderConfigDocs } from '../../scripts/gen-config-docs.ts';
import { tempDir } from '../helpers/tmp.ts';

/** Config validation (zod schemas), `config check`, environment overrides, and docs/config.md from the same schemas. */

const agentBase = { server_address: '127.0.0.1:8081', trust_domain: 'example.org', trust_bundle_path: '/b.pem' };

const issuesOf = (f: () => unknown) => {
  try { f(); } catch (e) { if (e instanceof ConfigValidationError) return e.issues; throw e; }
  throw new Error('expected a ConfigValidationError');
};

test('every problem is reported at once, each with its full key path and what is allowed', (t) => {
  const issues = issuesOf(() => parseServerConfig({
    trust_domain: 'example.org', ca: { ttl: 'abc' }, datastore: { kind: 'mysql' }, agent_api: { listen: 'nope', lisen: 1 },
    node_attestors: { tpm: { ek_hashes: ['zz'] }, carrier_pigeon: {} }, metrics: { listen: 9988 },
  }));
  t.deepEqual(issues, [
    { path: 'agent_api.listen', message: 'must be host:port (port 0 picks a free one), got "nope"' },
    { path: 'agent_api.lisen', message: 'unknown key (known: listen, dns_names, ip_addresses)' },
    { path: 'ca.ttl', message: 'must be a duration like "90s", "5m", "1h", "1d" or seconds, got "abc"' },
    { path: 'datastore.kind', message: 'must be one of sqlite, postgres, got "mysql"' },
    { path: 'node_attestors.tpm.ek_hashes[0]', message: '"zz" is not a SHA-256 hex digest of an EK public key' },
    { path: 'node_attestors.carrier_pigeon', message: 'unknown node attestor (known: join_token, tpm, aws_iid, gcp_iit, azure_msi, azure_imds, k8s_psat)' },
    { path: 'metrics.listen', message: 'must be a string, got number' },
  ]);
});

test('agent: node_attestor names its method, its section and the known methods', (t) => {
  t.deepEqual(issuesOf(() => parseAgentConfig({ ...agentBase })), [
    { path: 'node_attestor', message: 'is required (e.g. method: join_token; known: join_token, tpm, aws_iid, gcp_iit, azure_msi, azure_imds, k8s_psat)' },
  ]);
  t.deepEqual(issuesOf(() => parseAgentConfig({ ...agentBase, node_attestor: { method: 'tpm', tpm: { timeout: '0s' }, join_token: {} } })), [
    { path: 'node_attestor.tpm.timeout', message: 'must be at least 1s, got 0s' },
    { path: 'node_attestor.join_token', message: 'unknown key (a section must be named after the method, "tpm")' },
  ]);
});

test('a key with no value is absent, except a method key, which enables it with its defaults', (t) => {
  const c = parseServerConfig({ trust_domain: 'example.org', log_level: null, node_attestors: { join_token: null, aws_iid: null } });
  t.is(c.log_level, 'info');
  t.deepEqual(Object.keys(c.node_attestors).sort(), ['aws_iid', 'join_token']);
  const a = parseAgentConfig({ ...agentBase, node_attestor: { method: 'join_token', join_token: { token: 'abcdefgh' } }, workload_attestors: { docker: null } });
  t.deepEqual(a.workloadAttestors, { docker: {} });
});

test('metrics are off unless configured; metrics: {} listens on localhost', (t) => {
  t.is(parseServerConfig({ trust_domain: 'example.org' }).metrics, undefined);
  t.deepEqual(parseServerConfig({ trust_domain: 'example.org', metrics: {} }).metrics, { listen: '127.0.0.1:9988' });
  const node = { method: 'join_token', join_token: { token: 'abcdefgh' } };
  t.is(parseAgentConfig({ ...agentBase, node_attestor: node }).metrics, undefined);
  t.deepEqual(parseAgentConfig({ ...agentBase, node_attestor: node, metrics: { listen: '0.0.0.0:9989' } }).metrics, { listen: '0.0.0.0:9989' });
});

test('server: TESSERA_DATASTORE_CONNECTION_STRING supplies the connection string; an override with nowhere to go is an issue', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'server.yaml');
  writeFileSync(file, `trust_domain: example.org\ndata_dir: ${dir}\ndatastore:\n  kind: postgres\n`);
  const without = checkServerConfigFile(file, {});
  t.false(without.valid);
  t.regex(without.issues[0]!.message, /is required when datastore\.kind is postgres/);
  const url = 'postgres://tessera:s3cret@db.internal:5432/tessera';
  const withEnv = checkServerConfigFile(file, { TESSERA_DATASTORE_CONNECTION_STRING: url });
  t.true(withEnv.valid);
  t.is(withEnv.value!.datastore.connection, url);
  t.deepEqual(withEnv.env, ['TESSERA_DATASTORE_CONNECTION_STRING']);
  const stray = checkServerConfigFile(file, { TESSERA_DATASTORE_CONNECTION_STRING: url, TESSERA_OAUTH_LOGIN_CLIENT_SECRET: 'x' });
  t.deepEqual(stray.issues, [{ path: 'oauth.login.client_secret', message: 'oauth.login is not configured (set by TESSERA_OAUTH_LOGIN_CLIENT_SECRET)' }]);
});

test('agent: TESSERA_JOIN_TOKEN supplies the join token, replaces token_file, refuses another method, and --join-token beats it', (t) => {
  const env = { TESSERA_JOIN_TOKEN: 'from-env-123' };
  const tokenOf = (raw: Record<string, unknown>, flags = {}) => (parseAgentConfig(applyOverrides(raw, flags, env)).nodeAttestor.config as { token?: string; token_file?: string });
  t.deepEqual(tokenOf(agentBase), { token: 'from-env-123' });
  t.deepEqual(tokenOf({ ...agentBase, node_attestor: { method: 'join_token', join_token: { token_file: '/run/secrets/token' } } }), { token: 'from-env-123' });
  t.deepEqual(tokenOf(agentBase, { joinToken: 'from-flag-456' }), { token: 'from-flag-456' });
  t.throws(() => applyOverrides({ ...agentBase, node_attestor: { method: 'tpm' } }, {}, env),
    { instanceOf: ConfigValidationError, message: /node_attestor\.join_token\.token: node_attestor\.method is "tpm", not join_token \(set by TESSERA_JOIN_TOKEN\)/ });
  // Without the variable nothing changes.
  t.throws(() => parseAgentConfig(applyOverrides(agentBase, {}, {})), { message: /node_attestor: is required/ });
});

test('probes and admin verbs read only what they need: no datastore secret required', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'server.yaml');
  writeFileSync(file, `trust_domain: example.org\ndata_dir: ${dir}\ndatastore: { kind: postgres }\nmetrics: { listen: "0.0.0.0:9988" }\n`);
  t.false(checkServerConfigFile(file, {}).valid, 'the full check wants the connection string');
  t.deepEqual(serverMetricsTarget(file), { listen: '0.0.0.0:9988', dataDir: dir });
  t.is(serverAdminSocket(file), join(dir, 'admin', 'admin.sock'));
});

function io(env: NodeJS.ProcessEnv = {}): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', env, out: (s: string) => { o.stdout += s + '\n'; }, err: (s: string) => { o.stderr += s + '\n'; } };
  return o;
}

test('tessera-server config check: exit 0 with a summary, 1 listing every issue (JSON on request), never printing a secret', async (t) => {
  const dir = tempDir(t);
  const good = join(dir, 'good.yaml');
  writeFileSync(good, `trust_domain: example.org\ndata_dir: ${dir}\ndatastore: { kind: postgres }\nmetrics: { listen: "127.0.0.1:9988" }\n`);
  const ok = io({ TESSERA_DATASTORE_CONNECTION_STRING: 'postgres://u:hunter2@db/t' });
  t.is(await runCli('tessera-server', serverConfigCommands, ['config', 'check', good, '--output', 'json'], ok), 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as { valid: boolean; env_overrides: string[]; summary: Record<string, unknown> };
  t.true(report.valid);
  t.deepEqual(report.env_overrides, ['TESSERA_DATASTORE_CONNECTION_STRING']);
  t.is(report.summary.datastore, 'postgres');
  t.is(report.summary.metrics, '127.0.0.1:9988');
  t.false(ok.stdout.includes('hunter2'));

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'trust_domain: example.org\nsvid: { x509_ttl: soon }\nbogus: 1\n');
  const human = io();
  t.is(await runCli('tessera-server', serverConfigCommands, ['config', 'check', bad], human), 1);
  t.regex(human.stdout, /bad\.yaml: 2 problems\nconfig: svid\.x509_ttl: must be a duration like .*, got "soon"\nconfig: bogus: unknown key \(known: trust_domain, /);
  const missing = io();
  t.is(await runCli('tessera-server', serverConfigCommands, ['config', 'check', join(dir, 'nope.yaml'), '--output', 'json'], missing), 1);
  t.regex(JSON.parse(missing.stdout).issues[0].message, /cannot read .*nope\.yaml/);
  t.is(await runCli('tessera-server', serverConfigCommands, ['config', 'check'], io()), 2);
});

test('tessera-agent config check applies TESSERA_JOIN_TOKEN as run does', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, `server_address: "127.0.0.1:8081"\ntrust_domain: example.org\ntrust_bundle_path: /b.pem\ndata_dir: ${dir}\n`);
  t.false(checkAgentConfigFile(file, {}).valid);
  const out = io({ TESSERA_JOIN_TOKEN: 'tok-abcdefgh' });
  t.is(await runCli('tessera-agent', agentConfigCommands, ['config', 'check', file, '--output', 'json'], out), 0, out.stdout);
  const r = JSON.parse(out.stdout) as { valid: boolean; env_overrides: string[]; summary: { node_attestor: string } };
  t.deepEqual([r.valid, r.env_overrides, r.summary.node_attestor], [true, ['TESSERA_JOIN_TOKEN'], 'join_token']);
  t.false(out.stdout.includes('tok-abcdefgh'));
});

test('docs/config.md is generated from the schemas (npm run gen:config-docs) and matches them', (t) => {
  const text = renderConfigDocs();
  t.is(readFileSync(CONFIG_DOC, 'utf8'), text, 'docs/config.md differs from the config schemas: run node --import tsx scripts/gen-config-docs.ts');
  // Every top-level key of both schemas is documented, env overrides included.
  for (const key of ['trust_domain', 'datastore.connection', 'metrics.listen', 'node_attestor', 'workload_api.idle_timeout', 'TESSERA_DATASTORE_CONNECTION_STRING', 'TESSERA_JOIN_TOKEN']) {
    t.true(text.includes(`\`${key}\``), key);
  }
});
