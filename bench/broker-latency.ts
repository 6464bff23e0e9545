/**
 * Broker API vs Workload API latency for the same identity, in the same run: the
 * first SubscribeToX509SVID response a broker gets for a workload's pid, next to the
 * first FetchX509SVID response that workload gets itself, p50/p99 and their ratio.
 *
 * The agent side is the real endpoints (BrokerServer and WorkloadApiServer) over one
 * provider (fake, minting real SVIDs) and one composer (unix attestation). One client
 * process is both the workload (its own Workload API calls) and the broker (mTLS with
 * a broker SVID, referencing its own pid), alternating calls on warm connections, so
 * both paths see the same process, identity and attestation cache.
 *
 *   node --import tsx bench/broker-latency.ts [--calls N]
 */
import * as grpc from '@grpc/grpc-js';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkloadApiServer } from '../node-agent/workload-api/server.ts';
import { loadWorkloadApiProto } from '../node-agent/workload-api/proto.ts';
import { WorkloadAttestationComposer } from '../node-agent/attestation/composer.ts';
import { UnixWorkloadAttestor } from '../attestors/workload/unix.ts';
import { BrokerServer } from '../node-agent/broker/server.ts';
import { BROKER_SECURITY_HEADER, loadBrokerApiProto, pidReference } from '../node-agent/broker/proto.ts';
import { FakeIdentityProvider } from '../test/helpers/fake-provider.ts';
import { makeRootCa, makeSvid } from '../test/helpers/pki.ts';
import { StaticX509Source } from '../spiffe/source/static.ts';
import { BundleSet } from '../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../spiffe/bundle/spiffebundle.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { parseX509Svid } from '../spiffe/x509svid/parse.ts';
import { grpcChannelCredentials } from '../spiffe/tls/grpc.ts';
import { authorizeID } from '../spiffe/tls/authorizers.ts';
import { pct, spawnLines } from './lib/latency.ts';

const AGENT_ID = 'spiffe://example.org/tessera/agent/bench/1';
const BROKER_ID = 'spiffe://example.org/broker';

if (process.argv[2] === '--client') await client(process.argv[3]!, Number(process.argv[4]));
else await main();

async function main(): Promise<void> {
  const callsArg = process.argv.indexOf('--calls');
  const calls = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 1000;
  const dir = mkdtempSync(join(tmpdir(), 'bkb-'));
  chmodSync(dir, 0o755);
  const ca = await makeRootCa('example.org');
  const agentSvid = makeSvid(ca, AGENT_ID);
  const brokerSvid = makeSvid(ca, BROKER_ID);
  writeFileSync(join(dir, 'broker.json'), JSON.stringify({
    chain: brokerSvid.certificates.map((c) => Buffer.from(c).toString('base64')), key: Buffer.from(brokerSvid.pkcs8).toString('base64'), root: Buffer.from(ca.root).toString('base64'),
  }));

  const provider = await FakeIdentityProvider.create();
  provider.addEntry({ id: 'bench', spiffeId: 'spiffe://example.org/bench', selectors: [`unix:uid:${process.getuid!()}`] });
  const attestation = new WorkloadAttestationComposer({ unix: new UnixWorkloadAttestor() });
  const workloadApi = new WorkloadApiServer({ socketPath: join(dir, 'agent.sock'), provider, attestation, agentId: () => AGENT_ID });
  const broker = new BrokerServer({
    socketPath: join(dir, 'broker.sock'), allow: [{ spiffeId: BROKER_ID }], provider, attestation, agentId: () => AGENT_ID,
    identity: {
      svid: { key: agentSvid.privateKey, chain: agentSvid.certificates },
      bundle: { trustDomain: ca.trustDomain, x509Authorities: [ca.root], jwtAuthorities: [], sequence: 1, refreshHint: 0 },
    },
  });
  await workloadApi.start();
  await broker.start();

  const c = spawnLines(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--client', dir, String(calls)]);
  const r = JSON.parse(await c.next()) as { workload: number[]; broker: number[] };
  const w = { p50: pct(r.workload, 50), p99: pct(r.workload, 99) };
  const b = { p50: pct(r.broker, 50), p99: pct(r.broker, 99) };
  console.log(`node ${process.version}, ${cpus().length} cpus; ${calls} calls each, alternating, one client process, warm connections`);
  console.log('\nfirst X.509-SVID response for the same workload identity (ms)');
  console.log(`  Workload API FetchX509SVID (workload itself)      p50 ${w.p50.toFixed(2)}  p99 ${w.p99.toFixed(2)}`);
  console.log(`  Broker API SubscribeToX509SVID (pid reference)    p50 ${b.p50.toFixed(2)}  p99 ${b.p99.toFixed(2)}`);
  console.log(`  ratio broker / workload                           p50 ${(b.p50 / w.p50).toFixed(2)}  p99 ${(b.p99 / w.p99).toFixed(2)}`);
  await broker.stop();
  await workloadApi.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** The workload (Workload API for itself) and the broker (Broker API for its own pid), alternating. */
async function client(dir: string, calls: number): Promise<void> {
  const f = JSON.parse(readFileSync(join(dir, 'broker.json'), 'utf8')) as { chain: string[]; key: string; root: string };
  const td = TrustDomain.parse('example.org');
  const source = new StaticX509Source({
    svid: parseX509Svid(f.chain.map((c) => Buffer.from(c, 'base64')), Buffer.from(f.key, 'base64')),
    bundles: new BundleSet([new SpiffeBundle(td, { x509Authorities: [Buffer.from(f.root, 'base64')], sequence: 1 })]),
  });
  const Broker = loadBrokerApiProto().Client;
  const Workload = loadWorkloadApiProto().grpc.SpiffeWorkloadAPI;
  const bk = new Broker(`unix://${join(dir, 'broker.sock')}`, grpcChannelCredentials({ source, authorize: authorizeID(AGENT_ID) }));
  const wl = new Workload(`unix://${join(dir, 'agent.sock')}`, grpc.credentials.createInsecure());
  const wmd = new grpc.Metadata(); wmd.set('workload.spiffe.io', 'true');
  const bmd = new grpc.Metadata(); bmd.set(BROKER_SECURITY_HEADER, 'true');
  const reference = pidReference(process.pid);
  const first = (open: () => grpc.ClientReadableStream<unknown>): Promise<number> => new Promise((res, rej) => {
    const t0 = performance.now();
    const call = open();
    call.once('data', () => { res(performance.now() - t0); call.cancel(); });
    call.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) rej(e); });
  });
  const viaWorkload = () => first(() => wl.FetchX509SVID({}, wmd));
  const viaBroker = () => first(() => (bk as unknown as { SubscribeToX509SVID(r: unknown, md: grpc.Metadata): grpc.ClientReadableStream<unknown> }).SubscribeToX509SVID({ reference }, bmd));
  for (let i = 0; i < 50; i++) { await viaWorkload(); await viaBroker(); } // warm-up: connections, JIT, minted SVID
  const out = { workload: [] as number[], broker: [] as number[] };
  for (let i = 0; i < calls; i++) {
    out.workload.push(await viaWorkload());
    out.broker.push(await viaBroker());
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  bk.close(); wl.close();
  process.exit(0);
}
