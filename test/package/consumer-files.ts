/**
 * The consumer project's own files, as a user would write them against @tessera-id/sdk.
 * Kept as strings: as files under test/ the repo's tsc would try (and fail) to resolve
 * the package from here.
 */

/** Plain node, ESM: fetch our X.509-SVID from SPIFFE_ENDPOINT_SOCKET and print a summary. */
export const FETCH_MJS = `
import * as sdk from '@tessera-id/sdk';
const source = await sdk.X509Source.create({ timeoutMs: 20000 });
const svid = source.getX509Svid();
const bundle = source.getX509BundleForTrustDomain(svid.id.trustDomain);
console.log(JSON.stringify({
  format: 'esm',
  resolved: import.meta.resolve('@tessera-id/sdk'),
  id: svid.id.toString(),
  chain: svid.certificates.length,
  hasKey: svid.privateKey !== undefined,
  bundle: bundle ? bundle.authorities.length : 0,
  serverOnlyExported: 'createCaCertificate' in sdk || 'createLeafIssuer' in sdk,
  delegation: typeof sdk.verifyDelegatedToken,
}));
await source.close();
`;

/** The same through CommonJS require. */
export const FETCH_CJS = `
const sdk = require('@tessera-id/sdk');
// null inside a bundle, where the package is not on disk.
const where = () => { try { return require.resolve('@tessera-id/sdk'); } catch { return null; } };
(async () => {
  const source = await sdk.X509Source.create({ timeoutMs: 20000 });
  const svid = source.getX509Svid();
  const bundle = source.getX509BundleForTrustDomain(svid.id.trustDomain);
  console.log(JSON.stringify({
    format: 'cjs',
    resolved: where(),
    id: svid.id.toString(),
    chain: svid.certificates.length,
    hasKey: svid.privateKey !== undefined,
    bundle: bundle ? bundle.authorities.length : 0,
    serverOnlyExported: 'createCaCertificate' in sdk || 'createLeafIssuer' in sdk,
    delegation: typeof sdk.verifyDelegatedToken,
  }));
  await source.close();
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** TypeScript, ESM: the README's examples, type-checked (never run). */
export const CHECK_MTS = `
import * as https from 'node:https';
import {
  X509Source, JWTSource, WorkloadApiClient, SpiffeId, SpiffeError, createMtlsHttpsServer, createMtlsAgent,
  getPeer, authorizeMemberOf, authorizeID, createJwtTokenCache, jwtMiddleware, verifyDelegatedToken,
  type X509Svid, type Authorizer,
} from '@tessera-id/sdk';
// @ts-expect-error CA creation is server-only and not part of the SDK
import { createCaCertificate } from '@tessera-id/sdk';

export async function readme(): Promise<string> {
  const source = await X509Source.create();
  const svid: X509Svid = source.getX509Svid();
  source.onUpdate(() => console.log('rotated'));
  const server = createMtlsHttpsServer({ source, authorize: authorizeMemberOf('example.org') }, (req, res) => {
    res.end(\`hello \${getPeer(req)!.id}\`);
  });
  server.listen(8443);
  const agent = createMtlsAgent({ source, authorize: authorizeID('spiffe://example.org/api') });
  https.get('https://api.internal:8443/', { agent }, (res) => res.resume());

  const jwt = await JWTSource.create();
  const tokens = createJwtTokenCache({ source: jwt });
  const token: string = await tokens.getToken('billing');
  const auth = jwtMiddleware({ audience: 'billing', validator: jwt });
  void auth;
  const client = new WorkloadApiClient({ address: 'unix:///run/tessera/agent.sock' });
  client.close();
  const a: Authorizer = authorizeID(SpiffeId.parse('spiffe://example.org/x'));
  void a; void verifyDelegatedToken; void createCaCertificate;
  try { await source.close(); } catch (e) { if (e instanceof SpiffeError) return e.code; }
  return svid.id.toString() + token;
}
`;

/** TypeScript, CommonJS (node16 resolution picks the "require" condition's .d.cts). */
export const CHECK_CTS = `
import { X509Source, type X509Svid } from '@tessera-id/sdk';
export async function first(): Promise<X509Svid> {
  const s = await X509Source.create({ address: 'unix:///run/tessera/agent.sock' });
  return s.getX509Svid();
}
`;

const COMPILER = {
  strict: true, noEmit: true, skipLibCheck: false, target: 'ES2022', lib: ['ES2023'], types: ['node'],
};

/** tsconfig for one resolution mode; typeRoots picks which @types/node copy is used. */
export function tsconfig(mode: 'node16' | 'bundler', typeRoots: string[]): string {
  const module = mode === 'node16' ? { module: 'node16', moduleResolution: 'node16' } : { module: 'esnext', moduleResolution: 'bundler' };
  return JSON.stringify({
    compilerOptions: { ...COMPILER, ...module, typeRoots },
    files: mode === 'node16' ? ['check.mts', 'check.cts'] : ['check.mts'],
  }, null, 2);
}
