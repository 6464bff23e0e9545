import test from 'ava';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type PeerCertificate } from 'node:tls';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { memoryLogger } from '../../common/logger.ts';
import { TrustDomain, SpiffeId } from '../../spiffe/id.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { ServerSvidProvider } from '../../server/api/server-credentials.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { OAuthListener } from '../../server/oauth/listener.ts';
import { sendJson } from '../../server/oauth/http.ts';
import { TrustDomainBundles } from '../../server/oauth/trust.ts';
import { datastoreUnavailable } from '../../server/datastore/errors.ts';
import { tempDir } from '../helpers/tmp.ts';
import { httpsCall } from './harness.ts';

/**
 * The HTTPS listener: TLS with the server SVID, swapped without a restart when it is
 * renewed; client certificates requested but not required, verified per route; an
 * unexpected error is a 500 server_error that leaks nothing.
 */
async function setup(t: import('ava').ExecutionContext) {
  const dir = tempDir(t, 'tol-');
  const clock = systemClock;
  const logger = memoryLogger();
  const store = await SqliteDatastore.open({ path: join(dir, 'ds.sqlite3'), clock });
  t.teardown(() => store.close());
  const ca = await CaManager.open({ trustDomain: TrustDomain.parse('example.org'), dir: join(dir, 'ca'), ttlSeconds: 86400, refreshHintSeconds: 300, store, clock, logger });
  t.teardown(() => ca.close());
  const signer = new SvidSigner(ca, clock);
  const svid = new ServerSvidProvider({ ca, signer, clock, logger, ttlSeconds: 3600, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const bundles = new TrustDomainBundles(ca);
  const listener = await OAuthListener.start({ listen: '127.0.0.1:0', svid, bundles, clock, logger, dataDir: dir });
  t.teardown(() => listener.close());
  listener.mount({ method: 'GET', path: '/whoami', handler: (ctx) => sendJson(ctx.res, 200, { id: ctx.client()?.id.toString() ?? null }) });
  listener.mount({ method: 'GET', path: '/boom', handler: () => { throw new Error('secret database password in message'); } });
  listener.mount({ method: 'GET', path: '/down', handler: () => { throw datastoreUnavailable('postgres at 10.0.0.1 refused the connection'); } });
  const caPem = () => certificatesToPem(ca.x509Authorities());
  const workload = (path: string) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const s = signer.signX509({ spiffeId: SpiffeId.parse(`spiffe://example.org${path}`), publicKey, ttlSeconds: 600 });
    return { id: `spiffe://example.org${path}`, key: privateKey, chain: s.chain, x5t: '' };
  };
  return { dir, svid, listener, caPem, workload, logger };
}

function serverCertificate(address: string, caPem: string): Promise<PeerCertificate> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').pop())];
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, ca: caPem, servername: 'localhost' }, () => { resolve(s.getPeerCertificate()); s.end(); });
    s.on('error', reject);
  });
}

test('writes oauth.addr and serves TLS with the server SVID, renewed without a restart', async (t) => {
  const { dir, svid, listener, caPem } = await setup(t);
  t.is(readFileSync(join(dir, 'oauth.addr'), 'utf8').trim(), listener.address);
  const before = await serverCertificate(listener.address, caPem());
  t.true(new X509Certificate(before.raw).subjectAltName!.includes('URI:spiffe://example.org/tessera/server'));
  svid.renew();
  const after = await serverCertificate(listener.address, caPem());
  t.not(after.serialNumber, before.serialNumber, 'a new connection gets the renewed SVID');
  t.is(new X509Certificate(after.raw).serialNumber, new X509Certificate(Buffer.from(svid.chain[0]!)).serialNumber);
});

test('client certificates are optional; a presented SVID is verified and named', async (t) => {
  const { listener, caPem, workload } = await setup(t);
  t.deepEqual((await httpsCall(listener.address, caPem(), 'GET', '/whoami')).json, { id: null });
  const w = workload('/agents/a');
  t.deepEqual((await httpsCall(listener.address, caPem(), 'GET', '/whoami', { as: w })).json, { id: w.id });
});

test('an unexpected error is 500 server_error without internals', async (t) => {
  const { listener, caPem, logger } = await setup(t);
  const r = await httpsCall(listener.address, caPem(), 'GET', '/boom');
  t.is(r.status, 500);
  t.deepEqual(r.json, { error: 'server_error', error_description: 'internal error' });
  t.is(r.headers['cache-control'], 'no-store');
  t.false(r.text.includes('secret'));
  t.truthy(logger.records.find((l) => l.msg === 'oauth request failed'), 'the details go to the log');
});

test('an unreachable datastore is 503 temporarily_unavailable', async (t) => {
  const { listener, caPem } = await setup(t);
  const r = await httpsCall(listener.address, caPem(), 'GET', '/down');
  t.is(r.status, 503);
  t.deepEqual(r.json, { error: 'temporarily_unavailable', error_description: 'the datastore is unavailable; retry later' });
});
