import type { DelegationSubject } from '../delegation/types.ts';
import { decodeSegment, TokenRejected, verifyDelegatedToken, type VerifiedDelegatedToken } from './delegated-token.ts';
import { OAuthError } from './errors.ts';
import { clip } from './http.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { TrustedIssuers } from './trusted-issuers.ts';

/**
 * The first step of every exchange of a subject_token (RFC 8693 token exchange, and the
 * ID-JAG grant of identity chaining): whose token is it? A trusted IdP's is verified
 * here and yields the user; one of our own is left to the caller, which decides whether
 * its type may be exchanged and what of the parent chain carries over.
 */
export type TrustedOrOwn =
  | { kind: 'idp'; subject: DelegationSubject; exp: number; idp: Readonly<Record<string, unknown>> }
  | { kind: 'own' };

export async function verifyTrustedOrOwn(token: string, d: { issuer: string; trusted: TrustedIssuers }, now: number): Promise<TrustedOrOwn> {
  // An IdP token verified moments ago (the same user token exchanged again) needs no decoding.
  const seen = d.trusted.remembered(token, now);
  if (seen) return { kind: 'idp', subject: { issuer: seen.issuer, name: seen.name, groups: seen.groups }, exp: seen.exp, idp: seen.claims };
  const parts = token.split('.');
  const header = parts.length === 3 ? decodeSegment(parts[0]!) : undefined;
  const payload = parts.length === 3 ? decodeSegment(parts[1]!) : undefined;
  if (!header || !payload) throw new OAuthError('invalid_request', 'subject_token is not a JWT (three base64url JSON segments)');
  const iss = payload.iss;
  if (typeof iss !== 'string') throw new OAuthError('invalid_request', 'subject_token has no iss claim');
  if (iss === d.issuer) return { kind: 'own' };
  const trusted = d.trusted.get(iss);
  if (!trusted) {
    const list = d.trusted.issuers();
    throw new OAuthError('invalid_request', `subject_token issuer ${clip(JSON.stringify(iss), 200)} is not trusted (trusted: ${list.length ? list.join(', ') : 'none'}, and ${d.issuer} itself)`);
  }
  const v = await trusted.verify(token, header, now);
  return { kind: 'idp', subject: { issuer: v.issuer, name: v.name, groups: v.groups }, exp: v.exp, idp: v.claims };
}

/** A subject_token of our own (the parent of a sub-exchange), its rejection an invalid_request. */
export async function verifyOwnSubjectToken(token: string, d: { issuer: string; keys: Pick<OAuthKeyManager, 'findKey'> }, now: number): Promise<VerifiedDelegatedToken> {
  try {
    return await verifyDelegatedToken(token, { issuer: d.issuer, findKey: (kid) => d.keys.findKey(kid), now, what: 'subject_token' });
  } catch (e) {
    if (e instanceof TokenRejected) throw new OAuthError('invalid_request', e.message);
    throw e;
  }
}
