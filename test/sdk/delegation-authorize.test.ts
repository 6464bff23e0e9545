import test from 'ava';
import { SpiffeId } from '../../spiffe/id.ts';
import { authorizeDelegation } from '../../spiffe/delegation/authorize.ts';
import { DelegationError, type DelegationReason } from '../../spiffe/delegation/errors.ts';
import type { DelegatedToken } from '../../spiffe/delegation/types.ts';
import { HELPER, IDP, ISSUER, RESEARCHER, SUB_AGENT } from './delegation-fixtures.ts';

function token(actors: string[] = [RESEARCHER], scopes = ['files:read', 'review:post']): DelegatedToken {
  const list = actors.map((a) => ({ id: SpiffeId.parse(a), claims: {} }));
  return {
    token: 'x.y.z', issuer: ISSUER, subject: `${IDP}#alice`, subjectIssuer: IDP, subjectName: 'alice', scopes, audience: ['rs'],
    expiresAt: new Date(), issuedAt: new Date(), jti: 'tok_a', grantId: 'grt_a', chain: [], actors: list, clientId: actors[0]!, claims: {},
  };
}

function refusal(t: import('ava').ExecutionContext, fn: () => void, reason: DelegationReason, message: RegExp): void {
  const err = t.throws(fn, { instanceOf: DelegationError });
  t.is(err!.code, 'ERR_DELEGATION_UNAUTHORIZED');
  t.is(err!.reason, reason);
  t.regex(err!.message, message);
}

test('accepts a token meeting every condition', (t) => {
  const authorize = authorizeDelegation({ issuer: ISSUER, subjectIssuer: IDP, actor: RESEARCHER, maxDepth: 1, scopes: ['files:read'] });
  t.notThrows(() => authorize(token()));
});

test('refuses, naming the failed condition: issuer, subject issuer, depth, scopes', (t) => {
  refusal(t, () => authorizeDelegation({ issuer: 'https://other' })(token()), 'issuer', /token issuer https:\/\/tessera.example.org:8443 is not https:\/\/other/);
  refusal(t, () => authorizeDelegation({ subjectIssuer: 'https://idp.other' })(token()), 'subject_issuer', /alice is not from identity provider https:\/\/idp.other/);
  refusal(t, () => authorizeDelegation({ maxDepth: 2 })(token([HELPER, SUB_AGENT, RESEARCHER])), 'depth', /depth 3 .*helper <- .*sub-agent <- .*researcher.* exceeds 2/);
  t.notThrows(() => authorizeDelegation({ maxDepth: 2 })(token([SUB_AGENT, RESEARCHER])));
  const err = t.throws(() => authorizeDelegation({ scopes: ['files:read', 'files:write'] })(token()), { instanceOf: DelegationError });
  t.is(err!.reason, 'scope');
  t.deepEqual(err!.missingScopes, ['files:write']);
});

test('actor: exact ID, path/* pattern (the path and below), RegExp, predicate, or a list of them', (t) => {
  refusal(t, () => authorizeDelegation({ actor: RESEARCHER })(token([SUB_AGENT, RESEARCHER])), 'actor', /actor spiffe:\/\/example.org\/agents\/sub-agent is not spiffe:\/\/example.org\/agents\/researcher/);

  const under = authorizeDelegation({ actor: 'spiffe://example.org/agents/*' });
  t.notThrows(() => under(token([SUB_AGENT])));
  t.notThrows(() => under(token(['spiffe://example.org/agents'])));
  t.notThrows(() => under(token(['spiffe://example.org/agents/team/deep'])));
  refusal(t, () => under(token(['spiffe://example.org/agentsmith'])), 'actor', /is not under spiffe:\/\/example.org\/agents\//);
  refusal(t, () => under(token(['spiffe://other.org/agents/x'])), 'actor', /not under/);
  t.notThrows(() => authorizeDelegation({ actor: 'spiffe://example.org/*' })(token([HELPER])));

  const re = authorizeDelegation({ actor: /\/agents\/(researcher|helper)$/g });
  t.notThrows(() => re(token([HELPER])));
  t.notThrows(() => re(token([HELPER])), 'a global RegExp does not carry lastIndex between calls');
  refusal(t, () => re(token([SUB_AGENT])), 'actor', /is not matching/);

  const pred = authorizeDelegation({ actor: (id) => id.path.startsWith('/agents/') && id.trustDomain.name === 'example.org' });
  t.notThrows(() => pred(token([SUB_AGENT])));
  refusal(t, () => pred(token(['spiffe://example.org/svc/x'])), 'actor', /actor predicate/);

  const list = authorizeDelegation({ actor: [RESEARCHER, 'spiffe://example.org/agents/team/*'] });
  t.notThrows(() => list(token(['spiffe://example.org/agents/team/a'])));
  refusal(t, () => list(token([SUB_AGENT])), 'actor', /researcher or under/);
  // Only the current actor is matched: an allowed actor deeper in the chain does not make a stranger acceptable.
  refusal(t, () => authorizeDelegation({ actor: RESEARCHER })(token([HELPER, RESEARCHER])), 'actor', /helper/);
});

test('bad patterns and depths are refused when the authorizer is built, not per request', (t) => {
  t.throws(() => authorizeDelegation({ actor: 'https://example.org/agents/*' }), { message: /scheme must be spiffe/ });
  t.throws(() => authorizeDelegation({ actor: 'spiffe://example.org/a//b' }));
  t.throws(() => authorizeDelegation({ maxDepth: 0 }), { instanceOf: TypeError });
});

test('an actor requirement refuses a public client token, which names no agent', (t) => {
  const publicToken = { ...token(), actors: [], clientId: 'https://app.example.com/client.json' };
  refusal(t, () => authorizeDelegation({ actor: RESEARCHER })(publicToken), 'actor', /names no agent/);
  t.notThrows(() => authorizeDelegation({ scopes: ['files:read'] })(publicToken));
});
