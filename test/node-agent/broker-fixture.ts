/**
 * A broker for tests: a separate process that holds its own X.509-SVID from the
 * Workload API (X509Source), spawns workload processes, and calls the Broker API
 * for them over mTLS. Driven by JSON lines on stdin, answers JSON lines on stdout:
 *   {"event":"ready","spiffe_id":".."}
 *   in:  {"id":1,"op":"spawn","uid":1000,"gid":1000,"exe":"/bin/sleep","args":["infinity"]}   out: {"id":1,"pid":..}
 *   in:  {"id":2,"op":"kill","pid":..}                                      out: {"id":2,"ok":true}
 *   in:  {"id":3,"op":"x509"|"x509-bundles"|"jwt-bundles","pid":..}         out: {"id":3,"message":{..}} | {"id":3,"error":{..}}
 *   in:  {"id":4,"op":"jwt","pid":..,"audience":["a"]}
 *   in:  {"id":5,"op":"watch","pid":..}    out: {"id":5,"event":"update","message":{..}}... then {"id":5,"event":"end","error":{..}}
 * Options on a call: "no_header":true, "no_cert":true, "type_url"+"value_hex" (a raw reference).
 * usage: broker-fixture.ts <workload-socket> <broker-socket> <agent-spiffe-id>
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createInterface } from 'node:readline';
import { X509Source } from '../../spiffe/workloadapi/x509-source.ts';
import { grpcChannelCredentials } from '../../spiffe/tls/grpc.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { splitDerCertificates } from '../../spiffe/der.ts';
import { BROKER_SECURITY_HEADER, loadBrokerApiProto, pidReference } from '../../node-agent/broker/proto.ts';
import { errorInfoOf } from '../../node-agent/broker/errors.ts';

const [workloadSocket, brokerSocket, agentId] = process.argv.slice(2) as [string, string, string];
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const source = await X509Source.create({ address: `unix://${workloadSocket}` });
const { Client } = loadBrokerApiProto();
const target = `unix://${brokerSocket}`;
const client = new Client(target, grpcChannelCredentials({ source, authorize: authorizeID(agentId) }));
const bundlePem = certificatesToPem(source.getX509BundleForTrustDomain(source.getX509Svid().id.trustDomain)!.authorities);
const noCertClient = new Client(target, grpc.credentials.createSsl(Buffer.from(bundlePem), null, null, { checkServerIdentity: () => undefined }));
const children = new Map<number, ChildProcess>();

type Req = { id: number; op: string; pid?: number; uid?: number; gid?: number; exe?: string; args?: string[]; audience?: string[]; no_header?: boolean; no_cert?: boolean; type_url?: string; value_hex?: string };

const svidSummary = (m: { svids?: { spiffe_id: string; x509_svid: Buffer; hint: string }[] }) => (m.svids ?? []).map((s) => ({
  spiffe_id: s.spiffe_id, hint: s.hint, serial: new X509Certificate(splitDerCertificates(s.x509_svid)[0]!).serialNumber,
}));
const summary = (op: string, m: Record<string, unknown>) => {
  if (op === 'x509' || op === 'watch') return { svids: svidSummary(m as never), federated: Object.keys((m.federated_bundles ?? {}) as object) };
  if (op === 'jwt') return { svids: (m.svids as { spiffe_id: string; svid: string }[]).map((s) => ({ spiffe_id: s.spiffe_id, sub: JSON.parse(Buffer.from(s.svid.split('.')[1]!, 'base64url').toString()).sub })) };
  return { bundles: Object.keys((m.bundles ?? {}) as object) };
};
const errorOf = (e: grpc.ServiceError) => ({ code: grpc.status[e.code], details: e.details, reason: errorInfoOf(e.metadata)?.reason, domain: errorInfoOf(e.metadata)?.domain });

function call(r: Req): void {
  const c = r.no_cert ? noCertClient : client;
  const md = new grpc.Metadata();
  if (!r.no_header) md.set(BROKER_SECURITY_HEADER, 'true');
  const reference = r.type_url ? { reference: { type_url: r.type_url, value: Buffer.from(r.value_hex ?? '', 'hex') } } : pidReference(r.pid!);
  const method = { x509: 'SubscribeToX509SVID', watch: 'SubscribeToX509SVID', 'x509-bundles': 'SubscribeToX509Bundles', 'jwt-bundles': 'SubscribeToJWTBundles' }[r.op];
  if (r.op === 'jwt') {
    (c as unknown as Record<string, Function>).FetchJWTSVID({ reference, audience: r.audience ?? ['test'] }, md, (e: grpc.ServiceError | null, m: Record<string, unknown>) =>
      out(e ? { id: r.id, error: errorOf(e) } : { id: r.id, message: summary('jwt', m) }));
    return;
  }
  const stream = (c as unknown as Record<string, Function>)[method!]!({ reference }, md) as grpc.ClientReadableStream<Record<string, unknown>>;
  let first = true;
  stream.on('data', (m) => {
    if (r.op === 'watch') { out({ id: r.id, event: 'update', message: summary('watch', m) }); return; }
    if (first) { first = false; out({ id: r.id, message: summary(r.op, m) }); stream.cancel(); }
  });
  stream.on('error', (e: grpc.ServiceError) => {
    if (e.code === grpc.status.CANCELLED && !first) return;
    out(r.op === 'watch' ? { id: r.id, event: 'end', error: errorOf(e) } : { id: r.id, error: errorOf(e) });
  });
}

// The workloads it spawned end with it, however it is ended (stdin closed or the test's SIGTERM): none may outlive the test.
function endChildren(): void { for (const c of children.values()) c.kill('SIGKILL'); }
process.once('SIGTERM', () => { endChildren(); process.exit(0); });

out({ event: 'ready', spiffe_id: source.getX509Svid().id.toString() });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const r = JSON.parse(line) as Req;
  if (r.op === 'spawn') {
    const child = spawn(r.exe ?? '/bin/sleep', r.args ?? ['infinity'], { uid: r.uid, gid: r.gid, stdio: 'ignore' });
    children.set(child.pid!, child);
    // 'spawn' comes after the exec succeeded: the pid then runs the workload's program as its uid.
    child.once('spawn', () => out({ id: r.id, pid: child.pid }));
    child.once('error', (e) => out({ id: r.id, error: { code: 'SPAWN', details: e.message } }));
  } else if (r.op === 'kill') {
    const child = children.get(r.pid!)!;
    // 'exit' comes once Node has reaped it: the pid then names no process at all.
    child.once('exit', () => out({ id: r.id, ok: true }));
    child.kill('SIGKILL');
  } else {
    call(r);
  }
}
endChildren();
process.exit(0);
