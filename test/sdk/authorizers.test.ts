import test from 'ava';
import { SpiffeId } from '../../spiffe/id.ts';
import { AuthorizationError } from '../../spiffe/errors.ts';
import { authorizeAgent, authorizeAll, authorizeAny, authorizeID, authorizeIf, authorizeMemberOf, authorizeOneOf, type Authorizer } from '../../spiffe/tls/authorizers.ts';
import type { Peer } from '../../spiffe/tls/peer.ts';

const peer = (id: string, claims: Peer['claims'] = {}): Peer => ({ id: SpiffeId.parse(id), claims });
const allows = (a: Authorizer, p: Peer) => { try { a(p); return true; } catch (e) { if (e instanceof AuthorizationError) return false; throw e; } };

const planner = peer('spiffe://example.org/agents/planner', { agent_model: 'claude-x', agent_provider: 'anthropic', agent_instance_id: 'inst_1' });
const billing = peer('spiffe://example.org/billing');
const partner = peer('spiffe://partner.org/agents/planner', { agent_provider: 'acme' });

test('authorizeAny accepts every verified peer', (t) => {
  t.true(allows(authorizeAny(), planner) && allows(authorizeAny(), partner));
});

test('authorizeID accepts exactly one ID (trust domain case-insensitive, path case-sensitive)', (t) => {
  t.true(allows(authorizeID('spiffe://EXAMPLE.org/billing'), billing));
  t.false(allows(authorizeID('spiffe://example.org/Billing'), billing));
  t.false(allows(authorizeID('spiffe://partner.org/billing'), billing));
});

test('authorizeOneOf accepts any of a list', (t) => {
  const a = authorizeOneOf('spiffe://example.org/billing', SpiffeId.parse('spiffe://partner.org/agents/planner'));
  t.true(allows(a, billing));
  t.true(allows(a, partner));
  t.false(allows(a, planner));
});

test('authorizeMemberOf accepts the trust domain\'s members only', (t) => {
  t.true(allows(authorizeMemberOf('example.org'), planner));
  t.false(allows(authorizeMemberOf('example.org'), partner));
});

test('authorizeIf is the predicate form', (t) => {
  const agentsOnly = authorizeIf((p) => p.id.path.startsWith('/agents/'), 'an /agents/ path');
  t.true(allows(agentsOnly, planner));
  const err = t.throws(() => agentsOnly(billing), { instanceOf: AuthorizationError });
  t.is(err!.code, 'ERR_AUTHORIZATION');
  t.regex(err!.message, /an \/agents\/ path/);
});

test('authorizeAgent reads agent claims: "only agents of provider X"; a peer without claims never matches', (t) => {
  t.true(allows(authorizeAgent({ agent_provider: 'anthropic' }), planner));
  t.false(allows(authorizeAgent({ agent_provider: 'anthropic' }), partner));
  t.false(allows(authorizeAgent({ agent_provider: 'anthropic' }), billing));
  t.true(allows(authorizeAgent({ agent_model: ['claude-x', 'claude-y'] }), planner));
});

test('authorizeAll requires every authorizer', (t) => {
  const a = authorizeAll(authorizeMemberOf('example.org'), authorizeAgent({ agent_provider: 'anthropic' }));
  t.true(allows(a, planner));
  t.false(allows(a, billing));
  t.false(allows(a, partner));
});
