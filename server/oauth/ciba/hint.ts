import type { DelegationSubject } from '../../delegation/types.ts';
import type { AuthenticatedClient } from '../client-auth.ts';
import { decodeSegment, TokenRejected, verifyDelegatedToken } from '../delegated-token.ts';
import { OAuthError } from '../errors.ts';
import { clip, type Form } from '../http.ts';
import type { OAuthKeyManager } from '../keys.ts';
import type { DelegationCore } from '../ports.ts';
import type { TrustedIssuers } from '../trusted-issuers.ts';
import type { RequestData } from './request.ts';

/**
 * Who the backchannel request is about (CIBA §7.1: exactly one hint). Tessera needs a
 * token naming the user, never a bare identifier, so an agent can only ask about users
 * it already acts for:
 *
 * - `id_token_hint`: the user's ID token from a trusted issuer (what a root token
 *   exchange takes as subject_token);
 * - `login_hint_token`: a delegated token of ours issued to this very agent (bound
 *   tokens only from the certificate they are bound to), not revoked: the authority the
 *   agent holds and asks to extend.
 *
 * `login_hint` (an identifier alone) is refused. The user must be able to sign in at
 * the approval page: their issuer must be the login issuer.
 */
export interface HintDeps {
  issuer: string;
  /** oauth.login.issuer: where approvers sign in. */
  loginIssuer: string;
  trusted: Pick<TrustedIssuers, 'get' | 'issuers'>;
  keys: Pick<OAuthKeyManager, 'findKey'>;
  core: Pick<DelegationCore, 'revokedBy'>;
}

export interface Hinted {
  subject: DelegationSubject;
  /** Seconds: the hint's exp (bounds nothing after approval; see grants/ciba.ts). */
  exp: number;
  hint: RequestData['hint'];
  held?: RequestData['held'];
}

const HINTS = ['login_hint', 'id_token_hint', 'login_hint_token'] as const;

export async function verifyHint(d: HintDeps, form: Form, client: AuthenticatedClient, now: number): Promise<Hinted> {
  const given = HINTS.filter((h) => form.get(h) !== undefined);
  if (given.length !== 1) {
    throw new OAuthError('invalid_request', `exactly one of id_token_hint or login_hint_token is required (CIBA §7.1), got ${given.length ? given.join(' and ') : 'none'}`);
  }
  let out: Hinted;
  if (given[0] === 'login_hint') {
    throw new OAuthError('invalid_request', 'login_hint is not supported: name the user with a token, id_token_hint (their ID token) or login_hint_token (a delegated token you hold for them)');
  } else if (given[0] === 'id_token_hint') {
    out = await idTokenHint(d, form.get('id_token_hint')!, now);
  } else {
    out = await loginHintToken(d, form.get('login_hint_token')!, client, now);
  }
  if (out.subject.issuer !== d.loginIssuer) {
    throw new OAuthError('unknown_user_id', `${out.subject.issuer}#${out.subject.name} cannot approve here: approvers sign in at ${d.loginIssuer}`);
  }
  return out;
}

async function idTokenHint(d: HintDeps, token: string, now: number): Promise<Hinted> {
  const parts = token.split('.');
  const header = parts.length === 3 ? decodeSegment(parts[0]!) : undefined;
  const payload = parts.length === 3 ? decodeSegment(parts[1]!) : undefined;
  if (!header || !payload) throw new OAuthError('invalid_request', 'id_token_hint is not a JWT (three base64url JSON segments)');
  const iss = payload.iss;
  if (iss === d.issuer) throw new OAuthError('invalid_request', `id_token_hint is a delegated token of ${d.issuer}: send it as login_hint_token`);
  const trusted = typeof iss === 'string' ? d.trusted.get(iss) : undefined;
  if (!trusted) {
    throw new OAuthError('invalid_request', `id_token_hint issuer ${clip(JSON.stringify(iss ?? null), 200)} is not trusted (trusted: ${d.trusted.issuers().join(', ') || 'none'})`);
  }
  const v = await trusted.verify(token, header, now, 'id_token_hint');
  return { subject: { issuer: v.issuer, name: v.name, groups: v.groups }, exp: v.exp, hint: 'id_token_hint' };
}

async function loginHintToken(d: HintDeps, token: string, client: AuthenticatedClient, now: number): Promise<Hinted> {
  let t;
  try {
    t = await verifyDelegatedToken(token, { issuer: d.issuer, findKey: (kid) => d.keys.findKey(kid), now, what: 'login_hint_token' });
  } catch (e) {
    if (!(e instanceof TokenRejected)) throw e;
    throw new OAuthError(e.reason === 'expired' ? 'expired_login_hint_token' : 'invalid_request', e.message);
  }
  const c = t.claims;
  const rec = d.core.revokedBy(t.revocable);
  if (rec) throw new OAuthError('invalid_request', `login_hint_token ${c.jti} is revoked (${rec.kind} ${rec.value})`);
  if (c.client_id !== client.clientId) {
    throw new OAuthError('invalid_request', `login_hint_token was issued to ${clip(c.client_id, 200)}, not to ${client.clientId}: an agent may only ask to extend what it holds`);
  }
  const cnf = c.cnf?.['x5t#S256'];
  if (cnf !== undefined && client.x5t !== cnf) {
    throw new OAuthError('invalid_request', `login_hint_token is bound to another certificate (cnf x5t#S256 ${cnf}${client.x5t ? `, presented ${client.x5t}` : ', no client certificate presented'})`);
  }
  if (c.subject.iss === d.issuer) {
    throw new OAuthError('unknown_user_id', `login_hint_token names no person: its subject ${clip(c.sub, 200)} is an agent acting for itself`);
  }
  const groups = Array.isArray(c.subject.groups) ? c.subject.groups : [];
  return {
    subject: { issuer: c.subject.iss, name: c.subject.sub, groups }, exp: c.exp, hint: 'login_hint_token',
    held: { jti: c.jti, scopes: c.scope.split(' ').filter(Boolean), revocable: t.revocable },
  };
}
