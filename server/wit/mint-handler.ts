import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import type { AuditLog } from '../audit/log.ts';
import type { RegistrationEntry } from '../datastore/types.ts';
import type { AgentAuthenticator } from '../api/authn.ts';
import type { MintWITSVIDRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/MintWITSVIDRequest.ts';
import type { MintWITSVIDResponse } from '../../proto/gen/tessera-api/tessera/v1/MintWITSVIDResponse.ts';
import { WitIssuer } from './issuer.ts';

/** WIT-SVID lifetime when the server config sets none: short, rotated by agents at half-life. */
export const DEFAULT_WIT_SVID_TTL_SECONDS = 1800;

export interface WitMintDeps {
  authn: AgentAuthenticator;
  issuer: WitIssuer;
  clock: Clock;
  audit?: AuditLog;
  ttlSeconds?: number;
  /** The agent service's own checks, so both SVID kinds follow one rule each. */
  authorizedEntry(agentId: string, entryId: string): RegistrationEntry;
  claimsFor(e: RegistrationEntry, instanceId: string): AgentClaims;
}

/**
 * tessera.v1.AgentService/MintWITSVID: the caller (an agent, by its X.509-SVID) asks
 * for a WIT-SVID for one of its authorized entries, binding the public key of a key
 * pair it generated for the workload. sub is the entry's SPIFFE ID; the agent claims
 * ride along as in JWT-SVIDs. Typed errors become statuses in the agent service's
 * unary wrapper.
 */
export function mintWitSvidHandler(d: WitMintDeps): (call: grpc.ServerUnaryCall<MintWITSVIDRequest__Output, MintWITSVIDResponse>) => Promise<MintWITSVIDResponse> {
  const ttl = d.ttlSeconds ?? DEFAULT_WIT_SVID_TTL_SECONDS;
  return async (call) => {
    // As for X.509 and JWT-SVIDs (server/api/agent-service.ts): TLS first, the agent record
    // after issuing, so a ban or eviction committed meanwhile refuses the call and the
    // token issued is neither returned nor recorded.
    const claimed = d.authn.verifyPeerNotBanned(call);
    const r = call.request;
    const e = d.authorizedEntry(claimed.id.toString(), r.entry_id);
    const claims = d.claimsFor(e, r.instance_id);
    const { key, alg } = WitIssuer.readKey(r.public_key, r.alg);
    const wit = d.issuer.issue({ spiffeId: e.spiffeId, key, alg, ttlSeconds: ttl, claims });
    const issuedAt = d.clock.now();
    const peer = await d.authn.authenticate(call);
    await d.audit?.record({
      type: 'witsvid.issued', time: issuedAt, actor: peer.id.toString(), instance: r.instance_id || undefined,
      resource: e.spiffeId.toString(), action: 'issue', decision: 'allow',
      detail: { jti: wit.jti, kid: wit.kid, cnf_jkt: wit.cnfThumbprint, entry_id: e.id, ttl, expires_at: wit.expiresAt, claims },
    });
    return { token: wit.token, expires_at: wit.expiresAt };
  };
}
