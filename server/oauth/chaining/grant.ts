import { sign, type KeyObject } from 'node:crypto';
import type { ActClaim } from '../mint.ts';

/**
 * The JWT authorization grant one trust domain's authorization server issues for
 * another's (draft-ietf-oauth-identity-chaining §2.3, in the shape of the ID-JAG
 * profile, draft-ietf-oauth-identity-assertion-authz-grant §3): typed
 * `oauth-id-jag+jwt` so no validator of another kind of JWT accepts it, addressed
 * (`aud`) to exactly one foreign issuer, single use (`jti`), short-lived. Beyond the
 * draft's claims it carries the actor chain (`act`, RFC 8693 §4.1) and the user's
 * IdP identity (`subject`), so the foreign domain can apply its own delegation
 * policies to both.
 */
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export const ID_JAG_TYP = 'oauth-id-jag+jwt';
/** RFC 7523 §2.1. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface ChainingGrantClaims {
  iss: string;
  /** The user, qualified by the IdP issuer (`<idp>#<sub>`), as in our delegated tokens. */
  sub: string;
  /** The foreign authorization server's issuer, exactly one. */
  aud: string;
  /** The client that will present the grant: the current actor's SPIFFE ID. */
  client_id: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
  scope: string;
  /** RFC 8707 resource indicators the foreign token is for, when the request named any. */
  resource?: string[];
  /** The user as the IdP named them. */
  subject: { iss: string; sub: string; groups: string[] };
  /** The actor chain, current (= client_id) outermost. */
  act: ActClaim;
  /** The home grant (delegation) this was issued under: revocations at home name it. */
  grant_id: string;
  /** Authentication time from the IdP token, when it said. */
  auth_time?: number;
  amr?: string[];
}

export function signChainingGrant(claims: ChainingGrantClaims, key: { kid: string; privateKey: KeyObject }): string {
  const input = `${b64(JSON.stringify({ alg: 'ES256', typ: ID_JAG_TYP, kid: key.kid }))}.${b64(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64url');
