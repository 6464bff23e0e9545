import test, { type ExecutionContext } from 'ava';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';
import { agentFactory, type TpmAttestorAgent } from '../../attestors/node/tpm/agent.ts';
import { decodeResponse, encodeResponse } from '../../attestors/node/tpm/protocol.ts';
import { attest, startServer, uriSan, type TestServer } from '../helpers/server.ts';
import { extendPcr, startSwtpm, type Swtpm } from '../helpers/swtpm.ts';
import { agentCli, startAgent } from '../helpers/agent.ts';
import { ALICE, createEntry } from '../helpers/agent-e2e.ts';
import { tempDir } from '../helpers/tmp.ts';
import { IMAGES, extendLog, typicalLog } from '../helpers/tcg-eventlog.ts';

/**
 * The TPM method in real processes: tessera-server (Attest stream: payload, one
 * challenge round, result) and tessera-agent attesting with a real swtpm.
 */

const deps = { logger: silentLogger, clock: systemClock, dataDir: '/nonexistent' };

// event_log_path '': the host's own firmware log, if it has one, does not describe the swtpm's PCRs.
function makeAgent(t: ExecutionContext, tpm: Swtpm, eventLogPath = ''): TpmAttestorAgent {
  const agent = agentFactory.create(agentFactory.config.parse({ tcti: tpm.tcti, timeout: '180s', event_log_path: eventLogPath }, 'node_attestor.tpm'), deps) as TpmAttestorAgent;
  t.teardown(() => agent.close());
  return agent;
}

function serverWithTpm(t: ExecutionContext, tpm: Swtpm, extra: Record<string, unknown> = {}): Promise<TestServer> {
  return startServer(t, {
    config: {
      node_attestors: {
        tpm: { ek_ca_certs: [tpm.golden.rootCertPath], ek_intermediate_certs: [tpm.golden.intermediateCertPath], ...extra },
      },
    },
  });
}

test('tessera-server issues an agent SVID with the TPM agent ID and PCR selectors', async (t) => {
  const tpm = await startSwtpm(t);
  const pcr7 = await extendPcr(tpm, 7, 'secure-boot-db');
  const [srv, agent] = [await serverWithTpm(t, tpm), makeAgent(t, tpm)];
  const out = await attest(srv, 'tpm', await agent.payload(), { respond: (c) => agent.respond(c) });
  t.regex(out.id, /^spiffe:\/\/example\.org\/tessera\/agent\/tpm\/[0-9a-f]{64}$/);
  t.is(uriSan(out.chain[0]!), out.id);
  t.true(new X509Certificate(out.chain[0]!).checkPrivateKey(out.key));
  const sels = out.selectors.map((s) => `${s.type}:${s.value}`);
  t.true(sels.includes(`tpm:pcr:sha256:7:${pcr7}`), sels.join('\n'));
  t.true(sels.includes('tpm:ek_cert:issuer:cn:swtpm-localca'));
  t.true(sels.includes(`tpm:ek_hash:${out.id.split('/').pop()}`));
});

test('tessera-server maps a TPM rejection to PERMISSION_DENIED with the reason', async (t) => {
  const tpm = await startSwtpm(t);
  const [srv, agent] = [await serverWithTpm(t, tpm), makeAgent(t, tpm)];
  const e = await t.throwsAsync(attest(srv, 'tpm', await agent.payload(), {
    respond: async (c) => {
      const r = decodeResponse(await agent.respond(c));
      return encodeResponse({ ...r, pcrs: r.pcrs.map((p) => (p.index === 0 ? { ...p, value: new Uint8Array(32).fill(1) } : p)) });
    },
  }));
  t.is((e as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);
  t.regex((e as grpc.ServiceError).details, /PCR values do not hash to the quoted PCR digest/);
});

test('server + agent with swtpm: TPM agent ID and PCR selectors; a workload on a measured-boot node gets its SVID', async (t) => {
  const tpm = await startSwtpm(t);
  const pcr7 = await extendPcr(tpm, 7, 'secure-boot-db');
  const srv = await serverWithTpm(t, tpm, { pcr_policy: { required: { 7: [pcr7] } } });
  // Node alias: every agent whose quote showed this PCR 7; the workload entry hangs off it.
  const alias = 'spiffe://example.org/nodes/measured-boot';
  const r = await srv.cli(['entry', 'create', '--output', 'json', '--node', '--spiffe-id', alias, '--selector', `tpm:pcr:sha256:7:${pcr7}`]);
  t.is(r.code, 0, r.stderr);
  await createEntry(srv, alias, 'spiffe://example.org/alice', [`unix:uid:${ALICE.uid}`]);

  const agent = await startAgent(t, { server: srv, config: { node_attestor: { method: 'tpm', tpm: { tcti: tpm.tcti, timeout: '180s', event_log_path: '' } } } });
  t.regex(agent.spiffeId, /^spiffe:\/\/example\.org\/tessera\/agent\/tpm\/[0-9a-f]{64}$/);

  const shown = await srv.cli(['agent', 'show', agent.spiffeId, '--output', 'json']);
  t.is(shown.code, 0, shown.stderr);
  const sels = (JSON.parse(shown.stdout) as { selectors: { type: string; value: string }[] }).selectors.map((s) => `${s.type}:${s.value}`);
  t.true(sels.includes(`tpm:pcr:sha256:7:${pcr7}`), sels.join('\n'));
  t.true(sels.includes(`tpm:ek_hash:${agent.spiffeId.split('/').pop()}`));
  t.true(sels.includes('tpm:ek_cert:issuer:cn:swtpm-localca'));

  let fetched: { code: number; stdout: string; stderr: string } | undefined;
  // Until the entry has reached the agent over sync (the deadline only bounds a sync that never comes).
  for (let i = 0, deadline = Date.now() + 120_000; fetched?.code !== 0 && Date.now() < deadline; i++) {
    if (i > 0) await new Promise((res) => setTimeout(res, 200));
    fetched = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', agent.socketPath], ALICE);
  }
  t.is(fetched!.code, 0, fetched!.stderr);
  const svids = (JSON.parse(fetched!.stdout) as { svids: { spiffe_id: string }[] }).svids.map((s) => s.spiffe_id);
  t.deepEqual(svids, ['spiffe://example.org/alice']);
});

test('server + agent processes: a 50 kB event log travels with the quote; a log that does not replay is PERMISSION_DENIED', async (t) => {
  const [tpm, other] = await Promise.all([startSwtpm(t), startSwtpm(t)]);
  const log = typicalLog({ targetBytes: 50_000 });
  await Promise.all([extendLog(tpm, log), extendLog(other, log)]);
  const dir = tempDir(t, 'evlog-');
  const good = join(dir, 'good'), bad = join(dir, 'bad');
  writeFileSync(good, log.build());
  writeFileSync(bad, typicalLog({ targetBytes: 50_000, secureBoot: false }).build());
  const srv = await serverWithTpm(t, tpm, { event_log: { required: true, require_secure_boot: true } });

  const agent = await startAgent(t, { server: srv, config: { node_attestor: { method: 'tpm', tpm: { tcti: tpm.tcti, timeout: '180s', event_log_path: good } } } });
  const shown = await srv.cli(['agent', 'show', agent.spiffeId, '--output', 'json']);
  t.is(shown.code, 0, shown.stderr);
  const sels = (JSON.parse(shown.stdout) as { selectors: { type: string; value: string }[] }).selectors.map((s) => `${s.type}:${s.value}`);
  const shim = createHash('sha256').update(IMAGES.shim).digest('hex');
  t.true(sels.includes('tpm:secure_boot:enabled'), sels.join('\n'));
  t.true(sels.includes(`tpm:boot_loader:sha256:${shim}`), sels.join('\n'));

  const forger = makeAgent(t, other, bad);
  const e = await t.throwsAsync(attest(srv, 'tpm', await forger.payload(), { respond: (c) => forger.respond(c) }));
  t.is((e as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);
  t.regex((e as grpc.ServiceError).details, /event log does not replay to the quoted PCRs: PCR sha256:7 replays to/);
});
