import test from 'ava';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { runCli, sharedScope, startServer, type TestServer } from '../helpers/server.ts';

const scope = sharedScope();
let srv: TestServer;
test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

const json = (s: string) => JSON.parse(s);
const IDP = 'https://idp.example.org';

/** Rows of the server's audit table (its SQLite file, read-only while it runs). */
function audit(event: string): { subject: string; data: Record<string, unknown> }[] {
  const db = new Database(join(srv.dataDir, 'datastore.sqlite3'), { readonly: true });
  try {
    return (db.prepare('SELECT subject, data FROM audit WHERE event = ? ORDER BY seq').all(event) as { subject: string; data: string }[])
      .map((r) => ({ subject: r.subject, data: JSON.parse(r.data) }));
  } finally { db.close(); }
}

test('--help lists the delegation verbs and their flags', async (t) => {
  const top = await runCli(['--help']);
  for (const verb of ['create', 'list', 'show', 'update', 'delete', 'revoke', 'revocations']) t.true(top.stdout.includes(`delegation ${verb}`), verb);
  t.true(top.stdout.includes('approval list'));
  const c = await runCli(['delegation', 'create', '--help']);
  t.is(c.code, 0);
  for (const flag of ['--actor', '--issuer', '--subject', '--group', '--audience', '--scope', '--max-ttl', '--max-depth', '--may-delegate-to', '--approval-scope SCOPE', '--approver subject|group:NAME', '--output']) {
    t.true(c.stdout.includes(flag), flag);
  }
  const r = await runCli(['delegation', 'revoke', '--help']);
  for (const flag of ['--grant', '--jti', '--subject ISS#SUB', '--actor SPIFFE_ID']) t.true(r.stdout.includes(flag), flag);
});

test('delegation create, show, list, update and delete round-trip, and each change is audited', async (t) => {
  const c = await srv.cli(['delegation', 'create', '--actor', 'spiffe://Example.org/agents/*', '--actor', 'spiffe://example.org/ops/bot',
    '--issuer', IDP, '--group', 'eng', '--group', 'ops', '--audience', 'https://tools.example.org', '--scope', 'files:read',
    '--scope', 'review:post', '--max-ttl', '5m', '--max-depth', '2', '--may-delegate-to', 'spiffe://example.org/agents/sub/*',
    '--description', 'researchers', '--output', 'json']);
  t.is(c.code, 0, c.stderr);
  const p = json(c.stdout);
  t.regex(p.id, /^pol_[A-Za-z0-9_-]{16}$/);
  t.like(p, {
    actors: ['spiffe://example.org/agents/*', 'spiffe://example.org/ops/bot'], subject_issuer: IDP, subjects: [], groups: ['eng', 'ops'],
    audiences: ['https://tools.example.org'], scopes: ['files:read', 'review:post'], max_ttl: 300, max_depth: 2,
    may_delegate_to: ['spiffe://example.org/agents/sub/*'], revision: 1, description: 'researchers',
  });

  const show = await srv.cli(['delegation', 'show', p.id]);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /Max TTL\s+: 300s/);
  t.regex(show.stdout, /May delegate to : spiffe:\/\/example\.org\/agents\/sub\/\*/);
  const list = await srv.cli(['delegation', 'list']);
  t.regex(list.stdout, /^ID\s+ACTORS\s+ISSUER/);
  t.true(list.stdout.includes(p.id));

  const u = await srv.cli(['delegation', 'update', p.id, '--scope', 'files:read', '--clear', 'group', '--subject', 'alice',
    '--max-ttl', '90s', '--output', 'json']);
  t.is(u.code, 0, u.stderr);
  t.like(json(u.stdout), { id: p.id, revision: 2, scopes: ['files:read'], groups: [], subjects: ['alice'], max_ttl: 90, max_depth: 2,
    audiences: ['https://tools.example.org'], description: 'researchers' });
  const listed = json((await srv.cli(['delegation', 'list', '--output', 'json'])).stdout) as { id: string; revision: number }[];
  t.is(listed.find((x) => x.id === p.id)?.revision, 2);

  const d = await srv.cli(['delegation', 'delete', p.id]);
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout.trim(), `deleted ${p.id}`);
  const gone = await srv.cli(['delegation', 'show', p.id]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, new RegExp(`delegation policy "${p.id}" not found`));
  const again = await srv.cli(['delegation', 'delete', p.id]);
  t.is(again.code, 1);

  const events = ['created', 'updated', 'deleted'].map((e) => audit(`delegation.policy_${e}`).filter((r) => r.subject === p.id));
  t.deepEqual(events.map((e) => e.length), [1, 1, 1]);
  t.like(events[1][0].data, { who: 'admin', policy_id: p.id, revision: 2, scopes: ['files:read'] });
});

test('invalid policies are refused naming the field: usage errors exit 2, server-side validation exits 1', async (t) => {
  const base = ['delegation', 'create', '--issuer', IDP, '--audience', 'https://tools.example.org', '--scope', 'files:read'];
  const noActor = await srv.cli(base);
  t.is(noActor.code, 2);
  t.regex(noActor.stderr, /--actor is required/);
  const badTtl = await srv.cli([...base, '--actor', 'spiffe://example.org/a', '--max-ttl', '0']);
  t.is(badTtl.code, 2);
  t.regex(badTtl.stderr, /--max-ttl must be a positive whole number of seconds/);
  const badPattern = await srv.cli([...base, '--actor', 'spiffe://example.org/a*']);
  t.is(badPattern.code, 1);
  t.regex(badPattern.stderr, /actors\[0\]: actor pattern "spiffe:\/\/example\.org\/a\*"/);
  const badIssuer = await srv.cli(['delegation', 'create', '--actor', 'spiffe://example.org/a', '--issuer', 'http://idp', '--audience', 'x', '--scope', 's']);
  t.is(badIssuer.code, 1);
  t.regex(badIssuer.stderr, /subject_issuer: "http:\/\/idp" must be an https:\/\/ issuer URL/);
  const badDelegate = await srv.cli([...base, '--actor', 'spiffe://example.org/a', '--may-delegate-to', 'agents/*', '--output', 'json']);
  t.is(badDelegate.code, 1);
  t.like(json(badDelegate.stderr), { code: 'ERR_POLICY_INVALID' });
  t.regex(json(badDelegate.stderr).error, /may_delegate_to\[0\]/);
});

test('delegation revoke writes records that revocations lists, audited with who and what; exactly one target is required', async (t) => {
  const jti = await srv.cli(['delegation', 'revoke', '--jti', 'tok_cli_1', '--output', 'json']);
  t.is(jti.code, 0, jti.stderr);
  const r1 = json(jti.stdout);
  t.like(r1, { kind: 'jti', value: 'tok_cli_1', by: 'admin' });
  t.true(r1.expires_at > r1.at);
  const subj = await srv.cli(['delegation', 'revoke', '--subject', `${IDP}#alice`]);
  t.is(subj.code, 0, subj.stderr);
  t.regex(subj.stdout, /^revoked subject https:\/\/idp\.example\.org#alice \(seq \d+/);
  const actor = await srv.cli(['delegation', 'revoke', '--actor', 'spiffe://EXAMPLE.org/agents/rogue', '--output', 'json']);
  t.like(json(actor.stdout), { kind: 'actor', value: 'spiffe://example.org/agents/rogue' });

  const none = await srv.cli(['delegation', 'revoke']);
  t.is(none.code, 2);
  t.regex(none.stderr, /exactly one of --grant, --jti, --subject, --actor, --biscuit-id is required/);
  const two = await srv.cli(['delegation', 'revoke', '--jti', 'a', '--grant', 'b']);
  t.is(two.code, 2);
  const badSubject = await srv.cli(['delegation', 'revoke', '--subject', 'alice']);
  t.is(badSubject.code, 1);
  t.regex(badSubject.stderr, /subject "alice" must be ISSUER#SUBJECT/);

  const listed = json((await srv.cli(['delegation', 'revocations', '--output', 'json'])).stdout) as { seq: number; kind: string; value: string }[];
  const mine = listed.filter((r) => r.seq >= r1.seq);
  t.deepEqual(mine.map((r) => [r.kind, r.value]), [['jti', 'tok_cli_1'], ['subject', `${IDP}#alice`], ['actor', 'spiffe://example.org/agents/rogue']]);
  const after = json((await srv.cli(['delegation', 'revocations', '--after', String(r1.seq), '--output', 'json'])).stdout) as { value: string }[];
  t.deepEqual(after.map((r) => r.value), [`${IDP}#alice`, 'spiffe://example.org/agents/rogue']);
  const table = await srv.cli(['delegation', 'revocations']);
  t.regex(table.stdout, /^SEQ\s+KIND\s+VALUE/);

  const audited = audit('delegation.revoked');
  t.like(audited.find((r) => r.subject === 'jti:tok_cli_1')?.data, { who: 'admin', kind: 'jti', jti: 'tok_cli_1', seq: r1.seq });
  t.like(audited.find((r) => r.subject === `subject:${IDP}#alice`)?.data, { who: 'admin', subject: `${IDP}#alice` });
  t.like(audited.find((r) => r.subject === 'actor:spiffe://example.org/agents/rogue')?.data, { actor: 'spiffe://example.org/agents/rogue' });
});

test('--approval-scope and --approver put human approval on a policy: shown by show and list, kept by update, emptied by --clear approval', async (t) => {
  const c = await srv.cli(['delegation', 'create', '--actor', 'spiffe://example.org/agents/planner', '--issuer', IDP,
    '--audience', 'https://reviews.example.org', '--scope', 'files:read', '--approval-scope', 'review:post', '--approval-scope', 'release:ship',
    '--approver', 'subject', '--approver', 'group:leads', '--output', 'json']);
  t.is(c.code, 0, c.stderr);
  const p = json(c.stdout);
  t.deepEqual(p.approval, { scopes: ['review:post', 'release:ship'], approvers: ['subject', 'group:leads'] });
  t.deepEqual(p.scopes, ['files:read']);

  const show = await srv.cli(['delegation', 'show', p.id]);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /Approval scopes : review:post release:ship\n/);
  t.regex(show.stdout, /Approver        : subject\nApprover        : group:leads\n/);
  t.deepEqual(json((await srv.cli(['delegation', 'show', p.id, '--output', 'json'])).stdout).approval, p.approval);
  const table = (await srv.cli(['delegation', 'list'])).stdout;
  t.regex(table, /APPROVAL/);
  t.regex(table.split('\n').find((l) => l.startsWith(p.id)) ?? '', /review:post release:ship \(by subject group:leads\)/);
  const listed = json((await srv.cli(['delegation', 'list', '--output', 'json'])).stdout) as { id: string; approval: unknown }[];
  t.deepEqual(listed.find((x) => x.id === p.id)?.approval, p.approval);

  // An update without approval flags keeps it; --approver alone replaces the approvers, keeping the scopes.
  const kept = await srv.cli(['delegation', 'update', p.id, '--max-ttl', '2m', '--output', 'json']);
  t.is(kept.code, 0, kept.stderr);
  t.deepEqual(json(kept.stdout).approval, p.approval);
  const byGroup = await srv.cli(['delegation', 'update', p.id, '--approver', 'group:ops', '--output', 'json']);
  t.is(byGroup.code, 0, byGroup.stderr);
  t.deepEqual(json(byGroup.stdout).approval, { scopes: ['review:post', 'release:ship'], approvers: ['group:ops'] });
  const cleared = await srv.cli(['delegation', 'update', p.id, '--clear', 'approval', '--output', 'json']);
  t.is(cleared.code, 0, cleared.stderr);
  t.is(json(cleared.stdout).approval, null);
  t.regex((await srv.cli(['delegation', 'show', p.id])).stdout, /Approval scopes : none/);

  // Approvers default to the user acted for.
  const dflt = await srv.cli(['delegation', 'update', p.id, '--approval-scope', 'review:post', '--output', 'json']);
  t.deepEqual(json(dflt.stdout).approval, { scopes: ['review:post'], approvers: ['subject'] });
  const audited = audit('delegation.policy_updated').filter((r) => r.subject === p.id);
  t.is(audited.length, 4);
});

test('a bad approval is refused: a malformed --approver exits 2 naming the flag, a scope both standing and approvable exits 1 naming the field', async (t) => {
  const base = ['delegation', 'create', '--actor', 'spiffe://example.org/agents/a', '--issuer', IDP, '--audience', 'https://tools.example.org',
    '--scope', 'files:read'];
  const badApprover = await srv.cli([...base, '--approval-scope', 'review:post', '--approver', 'alice']);
  t.is(badApprover.code, 2);
  t.regex(badApprover.stderr, /--approver alice: expected subject or group:NAME/);
  const noScope = await srv.cli([...base, '--approver', 'group:leads']);
  t.is(noScope.code, 2);
  t.regex(noScope.stderr, /--approver needs --approval-scope/);
  const both = await srv.cli([...base, '--approval-scope', 'files:read', '--output', 'json']);
  t.is(both.code, 1);
  t.like(json(both.stderr), { code: 'ERR_POLICY_INVALID' });
  t.regex(json(both.stderr).error, /approval\.scopes\[0\]: "files:read" is already a standing scope/);
  const badScope = await srv.cli([...base, '--approval-scope', 'bad"scope']);
  t.is(badScope.code, 1);
  t.regex(badScope.stderr, /approval\.scopes\[0\]: "bad"scope" is not a scope token/);
});

test('approval list: no requests on a server without CIBA; a malformed --subject is refused naming it', async (t) => {
  const empty = await srv.cli(['approval', 'list', '--output', 'json']);
  t.is(empty.code, 0, empty.stderr);
  t.deepEqual(json(empty.stdout), []);
  t.is((await srv.cli(['approval', 'list', '--pending'])).stdout.trim(), 'no approval requests');
  const bad = await srv.cli(['approval', 'list', '--subject', 'alice']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /subject: "alice" must be ISSUER#SUBJECT/);
});
