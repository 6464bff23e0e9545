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

// ---- SDK: sources, Workload API, mTLS, JWT helpers (issue 8) ----
export type { X509SvidSource, JwtSvidSource, JwtSvidParams, UpdateNotifier } from './source/types.ts';
export { StaticX509Source } from './source/static.ts';

export { WorkloadApiClient, WorkloadApiError } from './workloadapi/client.ts';
export type { WorkloadApiClientOptions, X509SvidMessage, X509SvidUpdate, X509BundlesUpdate, JwtBundlesUpdate, JwtSvidMessage, ValidatedJwt, Watcher, Subscription } from './workloadapi/client.ts';
export { parseWorkloadApiAddress, addressFromEnv, formatWorkloadApiAddress, ENDPOINT_SOCKET_ENV } from './workloadapi/address.ts';
export type { WorkloadApiAddress } from './workloadapi/address.ts';
export { Backoff } from './lib/backoff.ts';
export type { BackoffOptions } from './lib/backoff.ts';
export type { SdkLogger } from './workloadapi/watch.ts';
export type { SourceOptions } from './workloadapi/source-base.ts';
export { X509Source } from './workloadapi/x509-source.ts';
export type { X509SourceOptions, X509Context } from './workloadapi/x509-source.ts';
export { JWTSource } from './workloadapi/jwt-source.ts';
export { BundleSource } from './workloadapi/bundle-source.ts';

export { authorizeAny, authorizeID, authorizeOneOf, authorizeMemberOf, authorizeIf, authorizeAgent, authorizeAll } from './tls/authorizers.ts';
export type { Authorizer } from './tls/authorizers.ts';
export { getPeer } from './tls/peer.ts';
export type { Peer } from './tls/peer.ts';
export { verifyPeer, peerChain } from './tls/verify-peer.ts';
export type { MtlsSources } from './tls/context.ts';
export { secureServer, createMtlsServer, createMtlsHttpsServer } from './tls/server.ts';
export type { MtlsServerOptions, ExtraServerTlsOptions } from './tls/server.ts';
export { connectMtls, createMtlsAgent, spiffeCheckServerIdentity } from './tls/client.ts';
export type { MtlsClientOptions, ExtraClientTlsOptions, ConnectTarget } from './tls/client.ts';
export { grpcChannelCredentials, serveGrpcMtls, grpcPeer } from './tls/grpc.ts';
export type { GrpcMtlsListener } from './tls/grpc.ts';

export { createJwtTokenCache } from './jwtsvid/token-cache.ts';
export type { JwtTokenCache, JwtTokenCacheOptions } from './jwtsvid/token-cache.ts';
export { createJwtRequestValidator, jwtMiddleware, getJwtPeer, bearerToken } from './jwtsvid/http-validator.ts';
export type { JwtRequestValidatorOptions, JwtValidateFn } from './jwtsvid/http-validator.ts';

// ---- SDK: delegated authority (docs/delegation.md) ----
export { DelegationError } from './delegation/errors.ts';
export type { DelegationErrorCode, DelegationReason } from './delegation/errors.ts';
export type { DelegatedToken, Actor, RevocationKind, RevocationRecord, RevocationChecker, DelegationKey, DelegationKeySource, ServerTrust, VerifyDelegatedTokenOptions } from './delegation/types.ts';
export { exchangeToken, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from './delegation/exchange.ts';
export type { ExchangeTokenOptions, ExchangeTokenResult } from './delegation/exchange.ts';
export { requestApproval, pollApproval, waitForApproval, CIBA_GRANT } from './delegation/approval.ts';
export type { ApprovalClientOptions, RequestApprovalOptions, ApprovalRequest, ApprovedToken, PollResult } from './delegation/approval.ts';
export { verifyDelegatedToken } from './delegation/verify.ts';
export { DELEGATION_ALGORITHMS, importJwks, createStaticDelegationKeys } from './delegation/keys.ts';
// Identity chaining across trust domains (docs/identity-chaining.md).
export { requestCrossDomainGrant, redeemCrossDomainGrant, ID_JAG_TOKEN_TYPE, JWT_BEARER_GRANT } from './chaining/cross-domain.ts';
export type { CrossDomainGrantRequest, CrossDomainGrant, CrossDomainRedeemRequest, CrossDomainToken } from './chaining/cross-domain.ts';
export type { DelegationAlgorithm } from './delegation/keys.ts';
export { RemoteDelegationKeys, createRemoteDelegationKeys } from './delegation/jwks-remote.ts';
export type { RemoteDelegationKeysOptions } from './delegation/jwks-remote.ts';
export { authorizeDelegation } from './delegation/authorize.ts';
export type { ActorMatcher, DelegationRequirements } from './delegation/authorize.ts';
export { RevocationFeed } from './delegation/revocation-feed.ts';
export type { RevocationFeedOptions } from './delegation/revocation-feed.ts';
export { SseParser } from './delegation/sse.ts';
export type { SseEvent } from './delegation/sse.ts';
export { delegationMiddleware, createDelegationValidator, getDelegation } from './delegation/middleware.ts';
export type { DelegationMiddlewareOptions } from './delegation/middleware.ts';
export { exchangeTokenViaAgent } from './delegation/agent-exchange.ts';
export type { AgentExchangeOptions, AgentExchangeResult } from './delegation/agent-exchange.ts';

// ---- SDK: execution budgets (docs/attenuation.md); Biscuit attenuation is the ./biscuit entry (spiffe/biscuit/index.ts) ----
export { BudgetClient } from './delegation/budget.ts';
export type { BudgetClientOptions, BudgetResult } from './delegation/budget.ts';

// ---- SDK: WIT-SVIDs with proof of possession (WIMSE WIT + Workload Proof Token; docs/wit-svid.md) ----
export * from './wit/index.ts';
