/** Tessera's public SPIFFE API (pure domain). The SDK (workloadapi/, tls/) extends this list. */
export * from './errors.ts';
export { TrustDomain, SpiffeId, isSpiffeId, agentId, serverId } from './id.ts';
export * from './selector.ts';
export * from './agent-claims.ts';
export { splitDerCertificates, concatDer } from './der.ts';

export { createLeafIssuer, createAsyncLeafIssuer, caNotAfter, DEFAULT_ORGANIZATION } from './x509svid/template.ts';
export type { CaSigner, LeafParams, LeafIssuer, AsyncLeafIssuer } from './x509svid/template.ts';
export { createCaCertificate } from './x509svid/ca.ts';
export type { CaParams } from './x509svid/ca.ts';
export { createCsr, parseCsr, parseCsrAsync } from './x509svid/csr.ts';
export type { ParsedCsr } from './x509svid/csr.ts';
export { encodeAgentClaimsExtension, decodeAgentClaimsExtension, agentClaimsFromCertificate } from './x509svid/claims-extension.ts';
export { parseX509Svid, spiffeIdFromCertificate } from './x509svid/parse.ts';
export type { X509Svid } from './x509svid/parse.ts';
export { verifyX509Svid } from './x509svid/verify.ts';
export type { VerifiedX509Svid } from './x509svid/verify.ts';

export { signJwtSvid } from './jwtsvid/sign.ts';
export type { JwtSigningKey, JwtSvidSignParams } from './jwtsvid/sign.ts';
export { verifyJwtSvid } from './jwtsvid/verify.ts';
export { parseJwtSvidInsecure } from './jwtsvid/parse.ts';
export { JWT_SVID_ALGORITHMS, isJwtSvidAlgorithm } from './jwtsvid/types.ts';
export type { JwtSvid, JwtSvidAlgorithm } from './jwtsvid/types.ts';

export { X509Bundle } from './bundle/x509bundle.ts';
export type { X509BundleSource } from './bundle/x509bundle.ts';
export { JwtBundle } from './bundle/jwtbundle.ts';
export type { JwtBundleSource } from './bundle/jwtbundle.ts';
export { SpiffeBundle, USE_X509_SVID, USE_JWT_SVID } from './bundle/spiffebundle.ts';
export type { SpiffeJwk, SpiffeJwks } from './bundle/spiffebundle.ts';
export { BundleSet } from './bundle/set.ts';
export type { SpiffeBundleSource } from './bundle/set.ts';
