// @tessera-id/sdk/authzen: OpenID AuthZEN decisions from the Tessera authorization server (docs/authzen.md).
export { AuthzenClient } from './client.ts';
export { AuthzenError } from './errors.ts';
export type { AuthzenErrorCode } from './errors.ts';
export type {
  AuthzenEntity, AuthzenAction, AuthzenEvaluation, AuthzenDecision, AuthzenApproval, AuthzenClientOptions, AuthorizeContext, RevocationSource,
} from './types.ts';
