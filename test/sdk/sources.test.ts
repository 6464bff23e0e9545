import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { WorkloadApiServer } from '../../node-agent/workload-api/server.ts';
import { WorkloadAttestationComposer } from '../../node-agent/attestation/composer.ts';
import { UnixWorkloadAttestor } from '../../attestors/workload/unix.ts';
import { FakeIdentityProvider } from '../helpers/fake-provider.ts';
import { tempDir } from '../helpers/tmp.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { SpiffeError } from '../../spiffe/errors.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import { X509Source } from '../../spiffe/workloadapi/x509-source.ts';
import { JWTSource } from '../../spiffe/workloadapi/jwt-source.ts';
import { BundleSource } from '../../spiffe/workloadapi/bundle-source.ts';
import { WorkloadApiClient, workloadChannelOptions } from '../../spiffe/workloadapi/client.ts';
import { loadWorkloadProto } from '../../spiffe/workloadapi/proto.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import type { SdkLogger } from '../../spiffe/workloadapi/watch.ts';

/**
 * Unix attestation without unix:path/sha256: the entries here match on uid only, and
 * hashing this process's executable (the node binary, ~100 MB) for every endpoint made
 * each first answer take seconds on a busy machine.
 */
const unixAttestor = () => new UnixWorkloadAttestor({ discoverWorkloadPath: false });

/** A real Workload API endpoint (peer credentials, unix attestation) over a fake provider, in this process (uid 0). */
async function endpoint(t: import('ava').ExecutionContext, o: { entry?: boolean } = {}) {
  const dir = tempDir(t, 'sdk-');
  const socketPath = join(dir, 'a.sock');
  const provider = await FakeIdentityProvider.create();
  if (o.entry !== false) provider.addEntry({ id: 'me', spiffeId: 'spiffe://example.org/me', selectors: [`unix:uid:${process.getuid!()}`], agent: { agent_model: 'm1', agent_provider: 'anthropic' } });
  const start = async () => {
    const s = new WorkloadApiServer({
      socketPath, provider, updateJitterMs: 0,
      attestation: new WorkloadAttestationComposer({ unix: unixAttestor() }),
      agentId: () => 'spiffe://example.org/tessera/agent/test/1',
    });
    await s.start();
    return s;
  };
  let server = await start();
  t.teardown(() => server.stop());
  return {
    provider, address: `unix://${socketPath}`,
    async restart() { await server.stop(); server = await start(); },
    stop: () => server.stop(),
  };
}

const nextUpdate = (s: { onUpdate(fn: () => void): () => void }, timeoutMs = 60_000) => new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => { off(); reject(new Error('no update')); }, timeoutMs);
  const off = s.onUpdate(() => { clearTimeout(timer); off(); resolve(); });
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fastBackoff = { initialMs: 20, maxMs: 200 };

/** Resolves once `fn` holds, checked every 10 ms (a generous overall bound: this waits for a condition, not a duration). */
async function until(what: string, fn: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An SdkLogger that keeps the codes of the stream failures a source retried. */
function retriedCodes(): { logger: SdkLogger; codes: string[] } {
  const codes: string[] = [];
  return { codes, logger: { debug: (_msg, f) => { if (typeof f?.code === 'string') codes.push(f.code); } } };
}

test('X509Source.create resolves after the first update with our SVID, key, claims and bundle', async (t) => {
  const ep = await endpoint(t);
  const source = await X509Source.create({ address: ep.address });
  t.teardown(() => source.close());
  const svid = source.getX509Svid();
  t.is(svid.id.toString(), 'spiffe://example.org/me');
  t.truthy(svid.privateKey);
  t.is(svid.claims.agent_provider, 'anthropic');
  t.regex(svid.claims.agent_instance_id!, /^inst_/);
  t.is(source.getX509BundleForTrustDomain(TrustDomain.parse('example.org'))!.authorities.length, 1);
});

test('the address comes from SPIFFE_ENDPOINT_SOCKET when no option is given', async (t) => {
  const ep = await endpoint(t);
  const before = process.env.SPIFFE_ENDPOINT_SOCKET;
  process.env.SPIFFE_ENDPOINT_SOCKET = ep.address;
  t.teardown(() => { if (before === undefined) delete process.env.SPIFFE_ENDPOINT_SOCKET; else process.env.SPIFFE_ENDPOINT_SOCKET = before; });
  const source = await X509Source.create();
  t.teardown(() => source.close());
  t.is(source.getX509Svid().id.toString(), 'spiffe://example.org/me');
});

test('X509Source emits an update and holds the new SVID after a rotation, and the new bundle after a CA change', async (t) => {
  const ep = await endpoint(t);
  const source = await X509Source.create({ address: ep.address });
  t.teardown(() => source.close());
  const first = source.getX509Svid();
  const updated = nextUpdate(source);
  ep.provider.rotateSvids();
  await updated;
  t.not(source.getX509Svid(), first);
  t.notDeepEqual(source.getX509Svid().certificates[0], first.certificates[0]);
  const caUpdated = nextUpdate(source);
  await ep.provider.rotateCa();
  await caUpdated;
  t.deepEqual(source.getX509BundleForTrustDomain(TrustDomain.parse('example.org'))!.authorities.map(hex), [hex(ep.provider.caCertificate)]);
});

test('X509Source reconnects with backoff after the endpoint restarts and keeps serving the last SVID meanwhile', async (t) => {
  const ep = await endpoint(t);
  const errors: string[] = [];
  const source = await X509Source.create({ address: ep.address, backoff: fastBackoff });
  t.teardown(() => source.close());
  source.onError((e) => errors.push(e.code));
  const held = source.getX509Svid();
  await ep.stop();
  await until('the source saw the endpoint go away', () => errors.includes('ERR_WORKLOADAPI_UNAVAILABLE'));
  t.is(source.getX509Svid(), held, 'still serving while the agent is away');
  const back = nextUpdate(source, 10_000);
  await ep.restart();
  ep.provider.rotateSvids();
  await back;
  t.true(errors.includes('ERR_WORKLOADAPI_UNAVAILABLE'));
  t.is(source.getX509Svid().id.toString(), 'spiffe://example.org/me');
});

test('by default a source retries a missing endpoint at least once a second (100 ms → 1 s, jittered) and reconnects when it returns', async (t) => {
  const ep = await endpoint(t);
  const delays: number[] = [];
  const logger: SdkLogger = { debug: (_msg, f) => { if (typeof f?.retry_in_ms === 'number') delays.push(f.retry_in_ms); } };
  const source = await X509Source.create({ address: ep.address, logger });
  t.teardown(() => source.close());
  await ep.stop();
  // Eight retries reach the 1 s ceiling (100, 200, 400, 800, 1000 … ms ceilings).
  await until('eight retries of the missing endpoint', () => delays.length >= 8);
  t.true(delays.every((d) => d >= 50 && d <= 1_000), `retry delays: ${delays.join(', ')} ms`);
  t.true(new Set(delays).size > 1, 'jittered, not one fixed delay');
  const back = nextUpdate(source);
  await ep.restart();
  ep.provider.rotateSvids();
  await back;
  t.is(source.getX509Svid().id.toString(), 'spiffe://example.org/me');
});

test('the default channel reconnects within 1 s, and channel options given by the caller win', (t) => {
  t.like(workloadChannelOptions(), { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000 });
  t.like(workloadChannelOptions({ 'grpc.max_reconnect_backoff_ms': 30_000 }), { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 30_000 });
});

test('PermissionDenied is retried: a source created before its entry exists becomes ready once the entry appears', async (t) => {
  const ep = await endpoint(t, { entry: false });
  const retried = retriedCodes();
  const pending = X509Source.create({ address: ep.address, backoff: fastBackoff, timeoutMs: 60_000, logger: retried.logger });
  await until('a PermissionDenied was retried', () => retried.codes.includes('ERR_WORKLOADAPI_PERMISSION_DENIED'));
  ep.provider.addEntry({ id: 'late', spiffeId: 'spiffe://example.org/late', selectors: [`unix:uid:${process.getuid!()}`] });
  const source = await pending;
  t.teardown(() => source.close());
  t.is(source.getX509Svid().id.toString(), 'spiffe://example.org/late');
});

test('create() rejects with PermissionDenied when no identity arrives before the timeout', async (t) => {
  const ep = await endpoint(t, { entry: false });
  // The endpoint answers PermissionDenied within milliseconds; the timeout leaves a slow
  // machine ample room to deliver the first one, which create() must report.
  const retried = retriedCodes();
  const err = await t.throwsAsync<SpiffeError>(X509Source.create({ address: ep.address, backoff: fastBackoff, timeoutMs: 5000, logger: retried.logger }));
  t.true(retried.codes.includes('ERR_WORKLOADAPI_PERMISSION_DENIED'), `retried: ${retried.codes.join(', ')}`);
  t.is(err!.code, 'ERR_WORKLOADAPI_PERMISSION_DENIED');
});

test('a PermissionDenied on an open stream revokes the SVIDs the source held', async (t) => {
  const ep = await endpoint(t);
  const source = await X509Source.create({ address: ep.address, backoff: fastBackoff });
  t.teardown(() => source.close());
  const revoked = nextUpdate(source);
  ep.provider.removeEntry('me');
  await revoked;
  const err = t.throws<SpiffeError>(() => source.getX509Svid());
  t.is(err!.code, 'ERR_SOURCE_NO_SVID');
});

test('InvalidArgument is never retried', async (t) => {
  const dir = tempDir(t, 'sdk-');
  const socket = join(dir, 'ia.sock');
  let calls = 0;
  const server = new grpc.Server();
  const def = loadWorkloadProto().SpiffeWorkloadAPI.service;
  const refuse = (call: grpc.ServerWritableStream<unknown, unknown>) => { calls++; call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'security header missing' }); };
  server.addService(def, { FetchX509SVID: refuse, FetchX509Bundles: refuse, FetchJWTBundles: refuse, FetchJWTSVID: () => {}, ValidateJWTSVID: () => {} });
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  t.teardown(() => server.forceShutdown());
  // A timeout far beyond the test's own: create() can only settle by failing at once.
  const err = await t.throwsAsync<SpiffeError>(X509Source.create({ address: `unix://${socket}`, backoff: fastBackoff, timeoutMs: 3_600_000 }));
  t.is(err!.code, 'ERR_WORKLOADAPI_INVALID_ARGUMENT');
  // Rejecting closed the source, so no retry can follow the one refused call.
  t.is(calls, 1);
});

test('Unavailable (no endpoint at all) is retried until the timeout, then reported as Unavailable', async (t) => {
  const dir = tempDir(t, 'sdk-');
  const client = new WorkloadApiClient({ address: `unix://${join(dir, 'nobody.sock')}` });
  t.teardown(() => client.close());
  const pending = X509Source.create({ client, backoff: fastBackoff, timeoutMs: 600 });
  const err = await t.throwsAsync<SpiffeError>(pending);
  t.is(err!.code, 'ERR_WORKLOADAPI_UNAVAILABLE');
});

test('a closed source refuses getters with ERR_SOURCE_CLOSED', async (t) => {
  const ep = await endpoint(t);
  const source = await X509Source.create({ address: ep.address });
  await source.close();
  t.is(t.throws<SpiffeError>(() => source.getX509Svid())!.code, 'ERR_SOURCE_CLOSED');
  t.true(source.closed);
});

test('JWTSource: a fetched JWT-SVID validates offline against the source\'s bundles and online via ValidateJWTSVID', async (t) => {
  const ep = await endpoint(t);
  const jwt = await JWTSource.create({ address: ep.address });
  t.teardown(() => jwt.close());
  const svid = await jwt.fetchJwtSvid({ audience: 'billing' });
  t.is(svid.id.toString(), 'spiffe://example.org/me');
  const offline = await verifyJwtSvid(svid.token, jwt, 'billing');
  t.is(offline.agentClaims.agent_provider, 'anthropic');
  const online = await jwt.validateJwtSvid(svid.token, 'billing');
  t.is(online.id.toString(), 'spiffe://example.org/me');
  t.is(online.agentClaims.agent_model, 'm1');
  await t.throwsAsync(jwt.validateJwtSvid(svid.token, 'not-billing'));
  const rotated = nextUpdate(jwt);
  ep.provider.rotateJwtKey();
  await rotated;
  const err = await t.throwsAsync<SpiffeError>(verifyJwtSvid(svid.token, jwt, 'billing'));
  t.is(err!.code, 'ERR_JWTSVID_UNTRUSTED');
});

test('BundleSource holds X.509 and JWT bundles apart, each for its own kind of validation', async (t) => {
  const ep = await endpoint(t);
  const b = await BundleSource.create({ address: ep.address });
  t.teardown(() => b.close());
  const td = TrustDomain.parse('example.org');
  t.deepEqual(b.getX509BundleForTrustDomain(td)!.authorities.map(hex), [hex(ep.provider.caCertificate)]);
  t.is(b.getJwtBundleForTrustDomain(td)!.keys.size, 1);
  t.is(b.getX509BundleForTrustDomain(TrustDomain.parse('other.org')), undefined);
});

test('backoff grows with full jitter up to its ceiling and resets', (t) => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
  t.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
  b.reset();
  t.is(b.next(), 100);
  const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  low.next(); low.next();
  t.is(low.next(), 50, 'never below half the initial delay');
});
