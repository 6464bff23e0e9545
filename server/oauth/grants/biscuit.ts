import { mintBiscuit } from '../../../spiffe/biscuit/mint.ts';
import { BISCUIT_TOKEN_TYPE } from '../../../spiffe/biscuit/vocabulary.ts';
import type { DelegationPolicy, ExchangeDecision } from '../../delegation/types.ts';
import type { BiscuitKeyManager } from '../biscuit-keys.ts';
import { OAuthError } from '../errors.ts';
import type { DelegatedClaims } from '../mint.ts';
import type { ChainActor } from '../../delegation/types.ts';

/**
 * The Biscuit form of a token exchange's result (docs/attenuation.md): the same
 * decision and claims as the JWT delegated token, stated as the authority block of a
 * Biscuit signed by the trust domain's current root key, so the holder can narrow it
 * offline. RFC 8693 `token_type` is N_A: a Biscuit is not an OAuth bearer token type.
 */
export { BISCUIT_TOKEN_TYPE };

export async function issueBiscuit(d: { keys: Pick<BiscuitKeyManager, 'signingKey'> }, c: {
  claims: DelegatedClaims; actors: ChainActor[]; decision: ExchangeDecision; policy: DelegationPolicy | undefined; bound: boolean;
}): Promise<{ token: string; revocationIds: string[]; kid: string }> {
  const key = d.keys.signingKey();
  try {
    const r = await mintBiscuit({
      issuer: c.claims.iss, jti: c.claims.jti, grantId: c.claims.grant_id, chain: c.claims.chain,
      subject: c.claims.subject, actors: c.actors, scopes: c.decision.scopes, audiences: c.decision.audiences,
      issuedAt: c.claims.iat, expiresAt: c.claims.exp, budgets: c.decision.budgets ?? {}, bound: c.bound,
      maxDepth: c.policy?.maxDepth ?? c.actors.length, mayDelegateTo: c.policy?.mayDelegateTo ?? [],
    }, { rootKeyId: key.rootKeyId, privateKey: key.privateKey });
    return { ...r, kid: key.kid };
  } catch (e) {
    // Control characters in a claim value (an IdP's subject or group): say which.
    if (e instanceof Error && /control characters/.test(e.message)) throw new OAuthError('invalid_request', `cannot issue a Biscuit: ${e.message}`);
    throw e;
  }
}
