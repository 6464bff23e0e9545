import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresTestDatabase, runCli, startServer } from '../helpers/server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { until } from '../helpers/wait.ts';

/**
 * Server readiness follows its datastore: a real server on PostgreSQL through a TCP
 * proxy, with the connection string (and its password) only in the environment
 * (TESSERA_DATASTORE_CONNECTION_STRING). /ready and `healthcheck --config` say 503 /
 * exit 1 naming the datastore while the network refuses, and recover once it heals.
 */

const PG = new URL(process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const DATASTORE_TIMEOUTS = { connect_timeout: '2s', statement_timeout: '3s', pool_wait_timeout: '3s', keepalive: '1s' };

const ready = async (address: string) => {
  const r = await fetch(`http://${address}/ready`);
  return { status: r.status, report: await r.json() as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> } };
};

test('/ready is 503 while PostgreSQL is unreachable and 200 again once it is back', async (t) => {
  const url = await postgresTestDatabase(t, 'tessera_ops');
  if (!url) { t.log(`no PostgreSQL at ${PG.host}: skipped`); t.pass(); return; }
  const proxy = await startTcpProxy(t, { host: PG.hostname, port: Number(PG.port || 5432) });
  const viaProxy = new URL(url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const srv = await startServer(t, {
    config: { datastore: { kind: 'postgres', ...DATASTORE_TIMEOUTS }, metrics: { listen: '127.0.0.1:0' } },
    env: { TESSERA_DATASTORE_CONNECTION_STRING: viaProxy.toString() },
  });
  t.false(readFileSync(srv.configPath, 'utf8').includes('postgres://'), 'the connection string is not in the file');
  const file = join(srv.dataDir, 'metrics.addr');
  const address = await until(() => existsSync(file) && readFileSync(file, 'utf8').trim(), 'metrics.addr');
  t.is((await ready(address)).status, 200);

  proxy.set({ kind: 'drop' });
  const down = await until(async () => { const r = await ready(address); return r.status === 503 && r; }, '/ready 503');
  t.false(down.report.checks.datastore!.ok);
  t.true(down.report.checks.ca!.ok);
  const probe = await runCli(['healthcheck', '--config', srv.configPath, '--output', 'json']);
  t.is(probe.code, 1, probe.stdout);
  t.regex(JSON.parse(probe.stdout).detail, /^not ready: datastore: /);

  proxy.set({ kind: 'pass' });
  await until(async () => (await ready(address)).status === 200, '/ready 200 again');
  const ok = await runCli(['healthcheck', '--config', srv.configPath]);
  t.is(ok.code, 0, ok.stdout + ok.stderr);
});
