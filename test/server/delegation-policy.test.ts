import test, { type ExecutionContext } from 'ava';
import { TesseraError } from '../../common/errors.ts';
import { OAuthError } from '../../server/oauth/errors.ts';
import { isActorPattern, matchesAnyActor, parseActorPattern } from '../../server/delegation/actor-pattern.ts';
import { evaluateExchange } from '../../server/delegation/policy-engine.ts';
import type { DelegationPolicy, ExchangeInput, OAuthErrorCode } from '../../server/delegation/types.ts';

const IDP = 'https://idp.example.org';
const TOOLS = 'https://tools.example.org';
const MAIL = 'https://mail.example.org';
const RESEARCHER = 'spiffe://example.org/agents/researcher';
const SUB_AGENT = 'spiffe://example.org/agents/sub/reader';
const NOW = 1_765_000_000;

function policy(over: Partial<DelegationPolicy> = {}): DelegationPolicy {
  return {
    id: 'pol_a', description: '', actors: [RESEARCHER], subjectIssuer: IDP, subjects: [], groups: [],
    audiences: [TOOLS], scopes: ['files:read', 'review:post'], maxTtl: 600, maxDepth: 1, mayDelegateTo: [],
    revision: 1, createdAt: 0, ...over,
  };
}

/** A root exchange (IdP subject token) by the researcher for alice, unless overridden. */
function input(over: Partial<ExchangeInput> = {}): ExchangeInput {
  return {
    subject: { issuer: IDP, name: 'alice', groups: ['eng'] },
    actor: { spiffeId: RESEARCHER, claims: {} },
    priorActors: [],
    subjectScopes: undefined,
    parentAudiences: undefined,
    subjectExpiresAt: NOW + 3600,
    requestedScopes: ['files:read'],
    requestedAudiences: [TOOLS],
    requestedTtl: undefined,
    now: NOW,
    serverMaxTtl: 300,
    ...over,
  };
}

/** A sub-exchange: the researcher's delegated token handed to the sub-agent. */
function subInput(over: Partial<ExchangeInput> = {}): ExchangeInput {
  return input({
    actor: { spiffeId: SUB_AGENT, claims: {} }, priorActors: [{ spiffeId: RESEARCHER, claims: {} }],
    subjectScopes: ['files:read', 'review:post'], parentAudiences: [TOOLS], subjectExpiresAt: NOW + 200, ...over,
  });
}

const delegating = policy({ id: 'pol_root', maxDepth: 2, mayDelegateTo: ['spiffe://example.org/agents/sub/*'] });
const subPolicy = policy({ id: 'pol_sub', actors: ['spiffe://example.org/agents/sub/*'], maxDepth: 2, scopes: ['files:read'] });

function refused(t: ExecutionContext, i: ExchangeInput, policies: DelegationPolicy[], error: OAuthErrorCode): string {
  const err = t.throws(() => evaluateExchange(i, policies), { instanceOf: OAuthError });
  t.is(err!.error, error, err!.message);
  return err!.message;
}

// ---- actor patterns ----

test('an actor pattern ending in /* matches that path and below on segment boundaries only', (t) => {
  const p = parseActorPattern('spiffe://example.org/a/*');
  t.true(p.prefix);
  t.true(p.matches('spiffe://example.org/a/b'));
  t.true(p.matches('spiffe://example.org/a/b/c'));
  t.true(p.matches('spiffe://example.org/a'));
  t.false(p.matches('spiffe://example.org/ab'));
  t.false(p.matches('spiffe://example.org/ab/c'));
  t.false(p.matches('spiffe://other.org/a/b'));
  t.false(p.matches('spiffe://example.org.evil/a/b'));
});

test('an exact actor pattern matches only that ID; the trust domain is canonicalised', (t) => {
  const p = parseActorPattern('spiffe://Example.ORG/agents/x');
  t.is(p.pattern, 'spiffe://example.org/agents/x');
  t.true(p.matches('spiffe://example.org/agents/x'));
  t.false(p.matches('spiffe://example.org/agents/x/y'));
  t.false(p.matches('spiffe://example.org/agents/xy'));
  t.is(parseActorPattern('spiffe://example.org/*').pattern, 'spiffe://example.org/*');
  t.true(parseActorPattern('spiffe://example.org/*').matches('spiffe://example.org/any/thing'));
});

test('invalid actor patterns are refused with ERR_ACTOR_PATTERN naming the pattern', (t) => {
  for (const bad of ['', '*', 'spiffe://example.org/a*', 'spiffe://example.org/*/b', 'spiffe://example.org/a/**',
    'https://example.org/a#x', 'http://example.org/a', 'spiffe://example.org', 'spiffe://example.org/a/', 'spiffe:/*', 'spiffe://example.org/a b/*']) {
    const err = t.throws(() => parseActorPattern(bad), { instanceOf: TesseraError }, bad);
    t.is(err!.code, 'ERR_ACTOR_PATTERN', bad);
    t.true(err!.message.includes(`"${bad}"`), err!.message);
    t.false(isActorPattern(bad));
  }
});

test('a stored pattern that does not parse matches nothing rather than everything', (t) => {
  t.false(matchesAnyActor(['spiffe:/*', '*', ''], RESEARCHER));
  t.true(matchesAnyActor(['spiffe:/*', 'spiffe://example.org/agents/*'], RESEARCHER));
});

// ---- policy match (default deny) ----

test('with no policy at all the exchange is unauthorized_client naming actor, subject and issuer', (t) => {
  const msg = refused(t, input(), [], 'unauthorized_client');
  t.is(msg, `no delegation policy lets ${RESEARCHER} act for ${IDP}#alice; no policy covers subject issuer ${IDP}`);
});

test('a policy for another issuer, actor, subject or group does not match, and each is named as considered', (t) => {
  t.is(refused(t, input(), [policy({ subjectIssuer: 'https://other.example.org' })], 'unauthorized_client'),
    `no delegation policy lets ${RESEARCHER} act for ${IDP}#alice; no policy covers subject issuer ${IDP}`);
  const msg = refused(t, input(), [
    policy({ id: 'pol_actor', actors: ['spiffe://example.org/agents/other'] }),
    policy({ id: 'pol_subj', subjects: ['bob'] }),
    policy({ id: 'pol_grp', groups: ['finance'] }),
  ], 'unauthorized_client');
  t.regex(msg, /pol_actor \(actor spiffe:\/\/example\.org\/agents\/researcher matches none of spiffe:\/\/example\.org\/agents\/other\)/);
  t.regex(msg, /pol_subj \(subject alice is not in subjects bob\)/);
  t.regex(msg, /pol_grp \(the user is in none of groups finance \(user's groups: eng\)\)/);
});

test('subjects and groups restrict the users a policy covers; empty means any', (t) => {
  t.is(evaluateExchange(input(), [policy({ subjects: ['alice', 'carol'] })]).policyId, 'pol_a');
  t.is(evaluateExchange(input(), [policy({ groups: ['ops', 'eng'] })]).policyId, 'pol_a');
  refused(t, input({ subject: { issuer: IDP, name: 'alice', groups: [] } }), [policy({ groups: ['eng'] })], 'unauthorized_client');
  refused(t, input({ subject: { issuer: IDP, name: 'dave', groups: ['eng'] } }), [policy({ subjects: ['alice'] })], 'unauthorized_client');
});

test('a prefix actor pattern covers agents below it but not a sibling sharing the prefix text', (t) => {
  const p = policy({ actors: ['spiffe://example.org/agents/*'] });
  t.is(evaluateExchange(input({ actor: { spiffeId: 'spiffe://example.org/agents/a/b', claims: {} } }), [p]).policyId, 'pol_a');
  refused(t, input({ actor: { spiffeId: 'spiffe://example.org/agentsx/a', claims: {} } }), [p], 'unauthorized_client');
});

// ---- attenuation: scope ----

test('no scope requested grants exactly the policy scopes (IdP subject token)', (t) => {
  const d = evaluateExchange(input({ requestedScopes: undefined }), [policy()]);
  t.deepEqual(d.scopes, ['files:read', 'review:post']);
});

test('no scope requested grants exactly the intersection with the subject token scope', (t) => {
  const d = evaluateExchange(subInput({ requestedScopes: undefined, subjectScopes: ['files:read', 'mail:send'] }), [delegating, subPolicy]);
  t.deepEqual(d.scopes, ['files:read']);
});

test('an empty intersection is invalid_scope naming both bounds', (t) => {
  const msg = refused(t, subInput({ requestedScopes: undefined, subjectScopes: ['review:post'] }), [delegating, subPolicy], 'invalid_scope');
  t.is(msg, 'no scope is left to grant: the subject token grants review:post; policy pol_sub allows files:read');
});

test('a scope beyond the subject token is invalid_scope naming the scope, the token grant and the policy', (t) => {
  const msg = refused(t, subInput({ requestedScopes: ['files:write'], subjectScopes: ['files:read'] }),
    [delegating, policy({ id: 'pol_x', actors: [SUB_AGENT], maxDepth: 2, scopes: ['files:read', 'files:write', 'review:post'] })], 'invalid_scope');
  t.is(msg, 'scope files:write is not allowed: the subject token grants files:read; policy pol_x allows files:read files:write review:post');
});

test('a scope beyond the policy is invalid_scope; several are all named', (t) => {
  t.is(refused(t, input({ requestedScopes: ['files:read', 'files:write', 'mail:send'] }), [policy()], 'invalid_scope'),
    'scopes files:write mail:send are not allowed: policy pol_a allows files:read review:post');
});

test('requested scopes within both bounds are granted as requested, de-duplicated', (t) => {
  t.deepEqual(evaluateExchange(input({ requestedScopes: ['review:post', 'files:read', 'review:post'] }), [policy()]).scopes,
    ['review:post', 'files:read']);
});

// ---- attenuation: audience ----

test('no audience or resource requested is invalid_target', (t) => {
  t.is(refused(t, input({ requestedAudiences: [] }), [policy()], 'invalid_target'), 'audience or resource is required');
});

test('an audience outside the policy is invalid_target naming it and what the policy allows', (t) => {
  t.is(refused(t, input({ requestedAudiences: [TOOLS, MAIL] }), [policy()], 'invalid_target'),
    `audience ${MAIL} not allowed: policy pol_a allows ${TOOLS}`);
});

test('a sub-exchange audience outside the parent token aud is invalid_target even when the policy allows it', (t) => {
  const wide = policy({ id: 'pol_sub', actors: [SUB_AGENT], maxDepth: 2, audiences: [TOOLS, MAIL] });
  t.is(refused(t, subInput({ requestedAudiences: [MAIL] }), [delegating, wide], 'invalid_target'),
    `audience ${MAIL} not allowed: the subject token's aud is ${TOOLS}`);
});

// ---- attenuation: lifetime ----

test('without expires_in, exp is the smallest of token_ttl, policy max_ttl and the subject token exp', (t) => {
  t.is(evaluateExchange(input(), [policy({ maxTtl: 600 })]).expiresAt, NOW + 300, 'server token_ttl');
  t.is(evaluateExchange(input(), [policy({ maxTtl: 120 })]).expiresAt, NOW + 120, 'policy max_ttl');
  t.is(evaluateExchange(input({ subjectExpiresAt: NOW + 60 }), [policy()]).expiresAt, NOW + 60, 'subject token exp');
});

test('an explicit expires_in within the bound is honoured exactly', (t) => {
  t.is(evaluateExchange(input({ requestedTtl: 90 }), [policy()]).expiresAt, NOW + 90);
  t.is(evaluateExchange(input({ requestedTtl: 300 }), [policy()]).expiresAt, NOW + 300);
});

test('an explicit expires_in above the bound is invalid_grant naming requested and allowed lifetimes', (t) => {
  t.is(refused(t, input({ requestedTtl: 301 }), [policy()], 'invalid_grant'),
    'expires_in 301 is above the allowed 300 s: policy pol_a max_ttl is 600 s, the server\'s token_ttl is 300 s, the subject token expires in 3600 s');
  t.regex(refused(t, input({ requestedTtl: 100 }), [policy({ maxTtl: 60 })], 'invalid_grant'), /expires_in 100 is above the allowed 60 s: policy pol_a max_ttl is 60 s/);
  t.regex(refused(t, input({ requestedTtl: 100, subjectExpiresAt: NOW + 50 }), [policy()], 'invalid_grant'), /allowed 50 s.*subject token expires in 50 s/);
});

test('a non-positive or fractional expires_in and an expired subject token are invalid_request', (t) => {
  refused(t, input({ requestedTtl: 0 }), [policy()], 'invalid_request');
  refused(t, input({ requestedTtl: 1.5 }), [policy()], 'invalid_request');
  t.is(refused(t, input({ subjectExpiresAt: NOW }), [policy()], 'invalid_request'), 'the subject token has expired');
});

// ---- sub-exchanges: may_delegate_to and depth ----

test('a sub-exchange allowed by may_delegate_to and both policies yields the narrower token', (t) => {
  const d = evaluateExchange(subInput(), [delegating, subPolicy]);
  t.deepEqual(d, { policyId: 'pol_sub', delegatingPolicyId: 'pol_root', scopes: ['files:read'], audiences: [TOOLS], expiresAt: NOW + 200 });
});

test('a sub-exchange to an actor may_delegate_to does not match is invalid_grant naming both actors and what is allowed', (t) => {
  const msg = refused(t, subInput({ actor: { spiffeId: 'spiffe://example.org/agents/subx', claims: {} } }),
    [delegating, policy({ id: 'pol_any', actors: ['spiffe://example.org/agents/*'], maxDepth: 3 })], 'invalid_grant');
  t.true(msg.startsWith(`${RESEARCHER} may not delegate to spiffe://example.org/agents/subx: `), msg);
  t.regex(msg, /policy pol_root allows delegating to spiffe:\/\/example\.org\/agents\/sub\/\*/);
  t.regex(msg, /policy pol_any allows delegating to no one/);
});

test('empty may_delegate_to means the holder may not delegate at all', (t) => {
  refused(t, subInput(), [policy({ id: 'pol_root', maxDepth: 2 }), subPolicy], 'invalid_grant');
});

test('a sub-exchange whose parent actor no longer has a policy for the user is invalid_grant', (t) => {
  t.is(refused(t, subInput(), [subPolicy], 'invalid_grant'),
    `${RESEARCHER} may not delegate to ${SUB_AGENT}: no delegation policy lets ${RESEARCHER} act for ${IDP}#alice`);
});

test('a sub-exchange needs a policy for the new actor too (unauthorized_client before may_delegate_to)', (t) => {
  refused(t, subInput(), [delegating], 'unauthorized_client');
});

test('depth beyond the actor policy max_depth is invalid_grant "depth n > max m"', (t) => {
  t.is(refused(t, subInput(), [delegating, policy({ id: 'pol_sub', actors: [SUB_AGENT], maxDepth: 1 })], 'invalid_grant'),
    'delegation depth 2 > max 1 of policy pol_sub');
  const deep = subInput({ priorActors: [{ spiffeId: RESEARCHER, claims: {} }, { spiffeId: 'spiffe://example.org/agents/root', claims: {} }] });
  t.is(refused(t, deep, [delegating, subPolicy], 'invalid_grant'), 'delegation depth 3 > max 2: ' +
    `policy pol_root (which lets ${RESEARCHER} delegate to ${SUB_AGENT}) allows max_depth 2`);
  t.is(refused(t, deep, [policy({ ...delegating, maxDepth: 3 }), subPolicy], 'invalid_grant'), 'delegation depth 3 > max 2 of policy pol_sub');
  t.is(evaluateExchange(deep, [policy({ ...delegating, maxDepth: 3 }), policy({ ...subPolicy, maxDepth: 3 })]).policyId, 'pol_sub');
});

// ---- several matching policies ----

test('with several matching policies the request must fit one entirely; the first that fits (by id) decides', (t) => {
  const read = policy({ id: 'pol_read', scopes: ['files:read'], audiences: [TOOLS] });
  const mail = policy({ id: 'pol_mail', scopes: ['mail:send'], audiences: [MAIL] });
  t.is(evaluateExchange(input({ requestedScopes: ['mail:send'], requestedAudiences: [MAIL] }), [read, mail]).policyId, 'pol_mail');
  t.is(evaluateExchange(input({ requestedScopes: ['files:read'], requestedAudiences: [TOOLS] }), [read, mail]).policyId, 'pol_read');
  // Scope from one policy and audience from the other: no single policy fits.
  const msg = refused(t, input({ requestedScopes: ['mail:send'], requestedAudiences: [TOOLS] }), [read, mail], 'invalid_target');
  t.regex(msg, new RegExp(`^audience ${TOOLS} not allowed: policy pol_mail allows ${MAIL} \\(also considered: scope mail:send is not allowed: policy pol_read allows files:read\\)$`));
  const both = [policy({ id: 'pol_z', scopes: ['files:read'] }), policy({ id: 'pol_y', scopes: ['files:read', 'review:post'] })];
  t.deepEqual(evaluateExchange(input({ requestedScopes: undefined }), both), {
    policyId: 'pol_y', scopes: ['files:read', 'review:post'], audiences: [TOOLS], expiresAt: NOW + 300,
  }, 'both fit: the lower id decides, whatever the input order');
});

test('several matching policies: the union of what they allow is not granted in one token', (t) => {
  const a = policy({ id: 'pol_1', scopes: ['files:read'] });
  const b = policy({ id: 'pol_2', scopes: ['review:post'] });
  const msg = refused(t, input({ requestedScopes: ['files:read', 'review:post'] }), [a, b], 'invalid_scope');
  t.regex(msg, /pol_1/);
  t.regex(msg, /pol_2/);
});

test('a policy that fails a later check is reported over one that fails an earlier check', (t) => {
  const shallow = policy({ id: 'pol_0', actors: [SUB_AGENT], maxDepth: 1 });
  const narrow = policy({ id: 'pol_1', actors: [SUB_AGENT], maxDepth: 2, maxTtl: 10 });
  const msg = refused(t, subInput({ requestedTtl: 100 }), [delegating, shallow, narrow], 'invalid_grant');
  t.true(msg.startsWith('expires_in 100 is above the allowed 10 s: policy pol_1'), msg);
  t.regex(msg, /also considered: delegation depth 2 > max 1 of policy pol_0/);
});
