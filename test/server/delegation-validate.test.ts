import test from 'ava';
import { TesseraError } from '../../common/errors.ts';
import { validatePolicy, validateRevocation, type PolicyInput } from '../../server/delegation/validate.ts';

function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    description: '', actors: ['spiffe://example.org/agents/*'], subjectIssuer: 'https://idp.example.org', subjects: [], groups: [],
    audiences: ['https://tools.example.org'], scopes: ['files:read'], maxTtl: 300, maxDepth: 1, mayDelegateTo: [], ...over,
  };
}

function refused(t: import('ava').ExecutionContext, fn: () => unknown, message: RegExp): void {
  const err = t.throws(fn, { instanceOf: TesseraError });
  t.is(err!.kind, 'invalid_argument');
  t.regex(err!.message, message);
}

test('a valid policy comes back canonical: patterns normalised, lists de-duplicated', (t) => {
  const p = validatePolicy(input({ actors: ['spiffe://EXAMPLE.org/a', 'spiffe://example.org/a'], scopes: ['s', 's'], id: 'pol_x' }));
  t.deepEqual(p.actors, ['spiffe://example.org/a']);
  t.deepEqual(p.scopes, ['s']);
  t.is(p.id, 'pol_x');
  t.false('id' in validatePolicy(input({ id: '' })), 'empty id: the store assigns one');
});

test('each invalid field is named in the error', (t) => {
  refused(t, () => validatePolicy(input({ actors: [] })), /^actors: at least one actor pattern is required/);
  refused(t, () => validatePolicy(input({ actors: ['spiffe://example.org/a', 'nope'] })), /^actors\[1\]: actor pattern "nope"/);
  refused(t, () => validatePolicy(input({ mayDelegateTo: ['spiffe://example.org/*/x'] })), /^may_delegate_to\[0\]:/);
  refused(t, () => validatePolicy(input({ subjectIssuer: 'idp.example.org' })), /^subject_issuer: "idp\.example\.org" must be an https:\/\//);
  refused(t, () => validatePolicy(input({ subjectIssuer: 'https://idp.example.org/?x=1' })), /^subject_issuer:/);
  refused(t, () => validatePolicy(input({ audiences: [] })), /^audiences: at least one value is required/);
  refused(t, () => validatePolicy(input({ audiences: ['a b'] })), /^audiences\[0\]: "a b" must not contain whitespace/);
  refused(t, () => validatePolicy(input({ scopes: [] })), /^scopes: at least one value is required/);
  refused(t, () => validatePolicy(input({ scopes: ['ok', 'files read'] })), /^scopes\[1\]: "files read" is not a scope token/);
  refused(t, () => validatePolicy(input({ groups: [''] })), /^groups\[0\]: must not be empty/);
  refused(t, () => validatePolicy(input({ maxTtl: 0 })), /^max_ttl: 0 must be a positive number of seconds/);
  refused(t, () => validatePolicy(input({ maxDepth: 0 })), /^max_depth: 0 must be at least 1/);
  refused(t, () => validatePolicy(input({ id: 'policy-1' })), /^id: "policy-1" must be "pol_"/);
});

test('revocation targets: known kind, non-empty value, canonical actor ID, ISS#SUB subjects', (t) => {
  t.deepEqual(validateRevocation('actor', 'spiffe://Example.ORG/a'), { kind: 'actor', value: 'spiffe://example.org/a' });
  t.deepEqual(validateRevocation('subject', 'https://idp.example.org#a#b'), { kind: 'subject', value: 'https://idp.example.org#a#b' });
  t.deepEqual(validateRevocation('grant', 'grt_1'), { kind: 'grant', value: 'grt_1' });
  refused(t, () => validateRevocation('token', 'x'), /^kind: "token" must be one of grant, jti, subject, actor/);
  refused(t, () => validateRevocation('jti', ''), /^value: a jti to revoke is required/);
  refused(t, () => validateRevocation('actor', 'researcher'), /^value: actor "researcher" is not a SPIFFE ID/);
  refused(t, () => validateRevocation('subject', 'https://idp.example.org#'), /must be ISSUER#SUBJECT/);
  refused(t, () => validateRevocation('subject', 'idp#alice'), /must be ISSUER#SUBJECT/);
});
