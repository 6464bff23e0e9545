/**
 * mTLS handshakes per second: the SDK (createMtlsServer + connectMtls: SPIFFE chain
 * verification against the peer's own trust-domain bundle + authorizer, on both
 * sides) vs plain node:tls (OpenSSL verification against the same root, requestCert
 * + rejectUnauthorized) with the same certificates. A handshake counts when the
 * client has read the server's first byte, which the server writes after its own
 * verification of the client. Fresh connections only (no session resumption).
 *
 *   node --import tsx bench/mtls-handshakes.ts [--n 400] [--rounds 5] [--concurrency 4]
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { parseX509Svid } from '../spiffe/x509svid/parse.ts';
import { StaticX509Source } from '../spiffe/source/static.ts';
import { authorizeID } from '../spiffe/tls/authorizers.ts';
import { connectMtls } from '../spiffe/tls/client.ts';
import { createMtlsServer } from '../spiffe/tls/server.ts';
import { certificatesToPem } from '../spiffe/pem.ts';
import { bundleSetOf, makeRootCa, makeSvid } from '../test/helpers/pki.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const N = arg('n', 400), ROUNDS = arg('rounds', 5), CONC = arg('concurrency', 4);

const ca = await makeRootCa('example.org');
const bundles = bundleSetOf([ca]);
const serverSvid = makeSvid(ca, 'service');
const clientSvid = makeSvid(ca, 'client');
const rootPem = certificatesToPem([ca.root]);
const pem = (s: typeof serverSvid) => ({ cert: certificatesToPem(s.certificates), key: s.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });

// --- plain node:tls
const plainServer = tls.createServer({ ...pem(serverSvid), ca: rootPem, requestCert: true, rejectUnauthorized: true }, (s) => { s.on('error', () => {}); s.end('k'); });
// --- SDK
const sdkServer = createMtlsServer({
  source: new StaticX509Source({ svid: parseX509Svid(serverSvid.certificates, serverSvid.pkcs8), bundles }),
  authorize: authorizeID('spiffe://example.org/client'),
}, (s) => { s.on('error', () => {}); s.end('k'); });
const clientSource = new StaticX509Source({ svid: parseX509Svid(clientSvid.certificates, clientSvid.pkcs8), bundles });
const listen = (s: tls.Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
const plainPort = await listen(plainServer), sdkPort = await listen(sdkServer);
const clientCtx = tls.createSecureContext({ ...pem(clientSvid), ca: rootPem });

const firstByte = (s: tls.TLSSocket) => new Promise<void>((resolve, reject) => {
  s.once('data', () => { s.destroy(); resolve(); });
  s.once('error', reject);
});

const plainOnce = () => firstByte(tls.connect({ host: '127.0.0.1', port: plainPort, secureContext: clientCtx, checkServerIdentity: () => undefined }));
const sdkOnce = async () => firstByte(await connectMtls({ source: clientSource, authorize: authorizeID('spiffe://example.org/service'), port: sdkPort }));

async function rate(once: () => Promise<void>): Promise<number> {
  let left = N;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, async () => { while (left-- > 0) await once(); }));
  return N / ((performance.now() - t0) / 1000);
}

await rate(plainOnce); await rate(sdkOnce); // warm-up
const plain: number[] = [], sdk: number[] = [];
for (let r = 0; r < ROUNDS; r++) { plain.push(await rate(plainOnce)); sdk.push(await rate(sdkOnce)); }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p = median(plain), s = median(sdk);
console.log(`node ${process.version}; ${N} handshakes x ${ROUNDS} rounds, ${CONC} in flight, ECDSA P-256, TLS ${tls.DEFAULT_MAX_VERSION}`);
console.log(`plain node:tls mTLS : ${p.toFixed(0)} handshakes/s (rounds: ${plain.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`SDK SPIFFE mTLS     : ${s.toFixed(0)} handshakes/s (rounds: ${sdk.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`ratio SDK / plain   : ${(s / p).toFixed(2)}`);
plainServer.close(); sdkServer.close();
