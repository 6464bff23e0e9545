import type { Datastore } from '../../datastore/types.ts';
import type { ChainActor, DelegationSubject, ExchangeDecision } from '../../delegation/types.ts';
import { authenticateActor, JWT_TOKEN_TYPE } from '../actor.ts';
import type { OAuthAudit } from '../audit.ts';
import type { VerifiedDelegatedToken } from '../delegated-token.ts';
import { OAuthError } from '../errors.ts';
import { clip } from '../http.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, newGrantId, newJti } from '../mint.ts';
import type { DelegationCore } from '../ports.ts';
import { verifyOwnSubjectToken, verifyTrustedOrOwn } from '../subject-token.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';
import type { TrustedIssuers } from '../trusted-issuers.ts';
import type { TrustDomainBundles } from '../trust.ts';
import { ID_JAG_TOKEN_TYPE, signChainingGrant, type ChainingGrantClaims } from './grant.ts';
import { parseGrantParams } from './params.ts';

/**
 * The home side of identity chaining (docs/identity-chaining.md): RFC 8693 token
 * exchange with requested_token_type=urn:ietf:params:oauth:token-type:id-jag and
 * audience = a foreign authorization server's issuer listed in
 * oauth.chaining.audiences. The subject token is a delegated token of ours (the chain
 * goes on as it is) or, for the ID-JAG profile, the user's ID token from a trusted
 * IdP; the actor proves its SVID as in every exchange. The delegation policies decide
 * as for any exchange with the foreign issuer as the audience, so a grant is never
 * wider than the subject token or the policy.
 */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const SUBJECT_TOKEN_TYPES = [ID_TOKEN_TYPE, ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE];

export interface IssueGrantDeps {
  issuer: string;
  tokenEndpoint: string;
  /** oauth.chaining.audiences */
  audiences: readonly string[];
  /** oauth.chaining.grant_ttl */
  grantTtl: number;
  keys: Pick<OAuthKeyManager, 'signingKey' | 'findKey'>;
  trusted: TrustedIssuers;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revokedBy'>;
  audit: OAuthAudit;
}

interface Subject {
  subject: DelegationSubject;
  exp: number;
  parent?: VerifiedDelegatedToken;
  idp?: Readonly<Record<string, unknown>>;
}

export function issueGrantHandler(d: IssueGrantDeps): GrantHandler {
  return {
    grantType: TOKEN_EXCHANGE,
    requestedTokenType: ID_JAG_TOKEN_TYPE,
    repeatable: ['resource'],
    async handle(r) {
      await d.audit.admit();
      const known: Record<string, unknown> = {};
      try {
        return await issue(d, r, known);
      } catch (e) {
        if (e instanceof OAuthError && e.status < 500) {
          d.audit.record('oauth.chaining_grant_refused', String(known.subject ?? known.actor ?? 'unknown'),
            { grant: TOKEN_EXCHANGE, token_type: 'id-jag', side: 'home', error: e.error, error_description: e.message, ...known }, 'warn');
        }
        throw e;
      }
    },
  };
}

async function issue(d: IssueGrantDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { form, now } = r;
  const subjectToken = form.require('subject_token');
  const subjectTokenType = form.require('subject_token_type');
  if (!SUBJECT_TOKEN_TYPES.includes(subjectTokenType)) {
    throw new OAuthError('invalid_request', `subject_token_type ${clip(subjectTokenType, 100)} is not supported for ${ID_JAG_TOKEN_TYPE}; use one of ${SUBJECT_TOKEN_TYPES.join(', ')}`);
  }
  const p = parseGrantParams(form);
  known.audience = p.audience;
  if (!d.audiences.includes(p.audience)) {
    throw new OAuthError('invalid_target', `audience ${clip(JSON.stringify(p.audience), 200)} is not a foreign authorization server this server issues grants for `
      + `(oauth.chaining.audiences: ${d.audiences.length ? d.audiences.join(', ') : 'none'})`);
  }

  const actor = await authenticateActor({
    client: r.client(), actorToken: form.get('actor_token'), actorTokenType: form.get('actor_token_type'),
    tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now,
  });
  known.actor = actor.id.toString();
  const s = await resolveSubject(d, subjectToken, subjectTokenType, actor.id.toString(), actor.x5t, now);
  const qualified = `${s.subject.issuer}#${s.subject.name}`;
  known.subject = qualified;

  // The holder of a delegated token carries its own chain over; anyone else extends it (may_delegate_to).
  const parentActors = s.parent?.actors ?? [];
  const holder = parentActors[0]?.spiffeId === actor.id.toString();
  const current: ChainActor = holder ? parentActors[0]! : { spiffeId: actor.id.toString(), claims: actor.claims };
  const prior = holder ? parentActors.slice(1) : parentActors;
  known.actor_chain = [current, ...prior].map((a) => a.spiffeId);
  const decision: ExchangeDecision = d.core.evaluate({
    subject: s.subject, actor: current, priorActors: prior,
    subjectScopes: s.parent ? split(s.parent.claims.scope) : undefined,
    // The foreign issuer is authorized by the policy's audiences (and oauth.chaining.audiences), never by the parent's aud.
    parentAudiences: undefined,
    subjectExpiresAt: s.exp, requestedScopes: p.scopes, requestedAudiences: [p.audience], requestedTtl: p.ttl,
    now, serverMaxTtl: d.grantTtl,
  }, d.core.policies());

  const auth = s.idp;
  const claims: ChainingGrantClaims = {
    iss: d.issuer, sub: qualified, aud: p.audience, client_id: current.spiffeId,
    jti: newJti(), iat: now, nbf: now, exp: decision.expiresAt, scope: decision.scopes.join(' '),
    ...(p.resources.length ? { resource: p.resources } : {}),
    subject: { iss: s.subject.issuer, sub: s.subject.name, groups: s.subject.groups },
    act: actClaim([current, ...prior]),
    grant_id: s.parent?.claims.grant_id ?? newGrantId(),
    ...(typeof auth?.auth_time === 'number' ? { auth_time: auth.auth_time } : {}),
    ...(Array.isArray(auth?.amr) ? { amr: (auth.amr as unknown[]).filter((x): x is string => typeof x === 'string') } : {}),
  };
  const key = d.keys.signingKey();
  const token = signChainingGrant(claims, key);
  d.audit.record('oauth.chaining_grant_issued', qualified, {
    grant: TOKEN_EXCHANGE, token_type: 'id-jag', audience: p.audience, resource: claims.resource, subject: qualified,
    actor_chain: known.actor_chain, actor_auth: actor.via, scopes: decision.scopes, jti: claims.jti, grant_id: claims.grant_id,
    parent_jti: s.parent?.claims.jti, policy: decision.policyId, exp: claims.exp, kid: key.kid,
  });
  return { access_token: token, issued_token_type: ID_JAG_TOKEN_TYPE, token_type: 'N_A', expires_in: claims.exp - now, scope: claims.scope };
}

async function resolveSubject(d: IssueGrantDeps, token: string, type: string, actorId: string, actorX5t: string | undefined, now: number): Promise<Subject> {
  const who = await verifyTrustedOrOwn(token, d, now);
  if (who.kind === 'idp') return { subject: who.subject, exp: who.exp, idp: who.idp };
  if (type === ID_TOKEN_TYPE) {
    throw new OAuthError('invalid_request', `subject_token is a delegated access token of ${d.issuer}; subject_token_type must be ${ACCESS_TOKEN_TYPE} or ${JWT_TOKEN_TYPE}`);
  }
  const parent = await verifyOwnSubjectToken(token, d, now);
  const rec = d.core.revokedBy(parent.revocable);
  if (rec) throw new OAuthError('invalid_request', `subject_token ${parent.claims.jti} is revoked (${rec.kind} ${rec.value})`);
  // As in token exchange: a bound token is carried across only by the certificate it is bound to.
  const cnf = parent.claims.cnf?.['x5t#S256'];
  if (cnf !== undefined && parent.claims.client_id === actorId && actorX5t !== cnf) {
    throw new OAuthError('invalid_request', `subject_token is bound to another certificate (cnf x5t#S256 ${cnf}): only its holder may exchange it for ${actorId}`);
  }
  const sc = parent.claims.subject;
  return { subject: { issuer: sc.iss, name: sc.sub, groups: Array.isArray(sc.groups) ? sc.groups : [] }, exp: parent.claims.exp, parent };
}

const split = (s: string): string[] => s.split(' ').filter((x) => x.length > 0);
