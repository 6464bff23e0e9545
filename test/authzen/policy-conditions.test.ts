import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { loadAdminProto } from '../../common/proto.ts';
import { call } from '../../server/cli/admin-client.ts';
import { runCli, sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, TOKEN_EXCHANGE, until, type HttpResult } from '../oauth/harness.ts';
import { startRestartableEnv, type RestartableEnv } from './restartable-env.ts';

/**
 * Conditions stored with the delegation policy (docs/authzen.md "Conditions"), set with
 * `tessera-server delegation create|update --condition` (a separate CLI process on the
 * admin socket of a real server), enforced by /access/v1/evaluation, refused when
 * malformed, shown by show/list, cleared by --clear conditions, and still in force after
 * the server restarts on the same store. Serial: the rate test moves the server's clock.
 */
const scope = sharedScope();
let env: RestartableEnv;
const TOOLS = 'https://tools.example.org';
const PAYER = 'spiffe://example.org/agents/payer';
const HOUR = 3600_000;
let offset = 0;

test.before(async () => { env = await startRestartableEnv(scope); });
test.after.always(() => scope.cleanup());

const cli = (args: string[]) => runCli(args, env.server.adminSocket);

async function payerToken(user = 'alice'): Promise<string> {
  const exp = Math.floor((Date.now() + offset) / 1000) + 7200;
  const r = await env.request('POST', '/oauth2/token', {
    as: env.svid('/agents/payer'),
    params: { grant_type: TOKEN_EXCHANGE, subject_token: await env.idp.token({ sub: user, groups: ['eng'], exp }), subject_token_type: ID_TOKEN, audience: TOOLS },
  });
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

const pay = (token: string, amount: number | undefined, destination?: string, action = 'payments:send') => env.request('POST', '/access/v1/evaluation', {
  as: env.svid('/services/tools'), contentType: 'application/json',
  body: JSON.stringify({
    subject: { type: 'agent', id: PAYER, properties: { token } },
    action: { name: action, properties: amount === undefined ? {} : { amount } },
    resource: { type: 'payment', id: 'p', properties: { audience: TOOLS, ...(destination ? { destination } : {}) } },
  }),
});

const idOf = (r: HttpResult) => `${r.json.decision}:${(r.json.context as any)?.id}`;

function decision(t: ExecutionContext, r: HttpResult, allowed: boolean, id: string, message?: RegExp): void {
  t.is(r.status, 200, r.text);
  t.is(r.json.decision, allowed, r.text);
  t.is((r.json.context as any).id, id, r.text);
  if (message) t.regex((r.json.context as any).reason_admin.en, message);
}

test.serial('conditions created by the CLI are stored with the policy, shown, and enforced by the decision point', async (t) => {
  const c = await cli(['delegation', 'create', '--id', 'pol_pay', '--actor', PAYER, '--issuer', env.idp.issuer, '--group', 'eng', '--audience', TOOLS,
    '--scope', 'payments:send', '--scope', 'payments:quote', '--max-ttl', '2h',
    '--condition', 'payments:send,amount=500,first-seen=50', '--condition', 'payments:quote,rate=3/1h', '--output', 'json']);
  t.is(c.code, 0, c.stderr);
  t.deepEqual(JSON.parse(c.stdout).conditions, [
    { action: 'payments:send', rate: null, amount: { property: 'amount', max: 500 }, first_seen: { property: 'destination', amount_property: 'amount', max_amount: 50, remember: 90 * 86400 } },
    { action: 'payments:quote', rate: { max: 3, window: 3600 }, amount: null, first_seen: null },
  ]);
  const shown = await cli(['delegation', 'show', 'pol_pay']);
  t.regex(shown.stdout, /^Condition\s+: payments:send,amount=500,first-seen=50,destination=destination,remember=7776000s$/m);
  t.regex(shown.stdout, /^Condition\s+: payments:quote,rate=3\/3600s$/m);
  const listed = await cli(['delegation', 'list']);
  t.regex(listed.stdout, /CONDITIONS/);
  t.regex(listed.stdout, /payments:send,amount=500,first-seen=50\S* payments:quote,rate=3\/3600s/);

  // The policy reaches the token endpoint and the decision point through the store's change feed.
  const token = await until('the CLI policy to allow the exchange', () => payerToken().catch(() => undefined));
  await until('the CLI policy to decide', async () => ((await pay(token, 600, 'acct-1')).json.decision === false ? true : undefined));
  decision(t, await pay(token, 600, 'acct-1'), false, 'amount_threshold', /^amount 600 is above 500, the most policy pol_pay allows for payments:send$/);
  decision(t, await pay(token, 100, 'acct-1'), false, 'novel_destination', /^destination "acct-1" was never used before/);
  decision(t, await pay(token, 40, 'acct-1'), true, 'permit');
  decision(t, await pay(token, 100, 'acct-1'), true, 'permit');

  // Rate: start just after a window boundary so the four fall into one window.
  const skip = HOUR - ((Date.now() + offset) % HOUR) + 1000;
  env.advance(skip); offset += skip;
  const quoter = await payerToken();
  for (let i = 0; i < 3; i++) decision(t, await pay(quoter, undefined, undefined, 'payments:quote'), true, 'permit');
  decision(t, await pay(quoter, undefined, undefined, 'payments:quote'), false, 'rate_limited', /^payments:quote is limited to 3 per 3600 s by policy pol_pay/);
});

test.serial('malformed conditions are refused with the field and the value; nothing is stored', async (t) => {
  // Through the CLI: one error of the server's validation, one of the flag's syntax.
  const base = ['delegation', 'create', '--actor', PAYER, '--issuer', env.idp.issuer, '--audience', TOOLS, '--scope', 'payments:send'];
  const wrongAction = await cli([...base, '--condition', 'refunds:send,amount=5']);
  t.not(wrongAction.code, 0);
  t.regex(wrongAction.stderr, /conditions\[0\]\.action: "refunds:send" is not a scope of this policy \(scopes and approval scopes: payments:send\)/);
  const syntax = await cli([...base, '--condition', 'payments:send,rate=3']);
  t.not(syntax.code, 0);
  t.regex(syntax.stderr, /--condition payments:send,rate=3: rate=3: expected MAX\/WINDOW, e\.g\. 3\/1h/);

  // The admin API (what the CLI sends), every rule's bounds.
  const admin = new (loadAdminProto().tessera.v1.DelegationAdmin)(`unix://${env.server.adminSocket}`, grpc.credentials.createInsecure());
  t.teardown(() => admin.close());
  const policy = { actors: [PAYER], subject_issuer: env.idp.issuer, audiences: [TOOLS], scopes: ['payments:send'], max_ttl: 300, max_depth: 1 };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ action: 'payments:send' }, /conditions\[0\]: a condition on payments:send needs at least one rule: rate, amount or first_seen/],
    [{ action: 'payments:send', rate: { max: 0, window: 60 } }, /conditions\[0\]\.rate\.max: 0 must be a whole number of permits ≥ 1/],
    [{ action: 'payments:send', rate: { max: 3, window: 172800 } }, /conditions\[0\]\.rate\.window: 172800 must be a whole number of seconds from 1 to 86400/],
    [{ action: 'payments:send', amount: { property: 'a b', max: 5 } }, /conditions\[0\]\.amount\.property: "a b" must be a property name/],
    [{ action: 'payments:send', amount: { max: -1 } }, /conditions\[0\]\.amount\.max: -1 must be a finite number ≥ 0/],
    [{ action: 'payments:send', first_seen: { max_amount: 5, remember: 10 } }, /conditions\[0\]\.first_seen\.remember: 10 must be a whole number of seconds from 60/],
  ];
  const before = await call<unknown, { policies: unknown[] }>(admin, 'ListPolicies', {});
  for (const [condition, error] of cases) {
    const e = await t.throwsAsync<Error & { code?: string; grpcCode?: number }>(call(admin, 'CreatePolicy', { ...policy, conditions: [condition] }));
    t.regex(e!.message, error);
    t.is(e!.code, 'ERR_POLICY_INVALID');
    t.is(e!.grpcCode, grpc.status.INVALID_ARGUMENT);
  }
  t.deepEqual(await call<unknown, { policies: unknown[] }>(admin, 'ListPolicies', {}), before);
});

test.serial('update replaces the conditions, --clear conditions removes them, and the decision point follows', async (t) => {
  const token = await payerToken('bob');
  const u = await cli(['delegation', 'update', 'pol_pay', '--condition', 'payments:send,amount=100', '--output', 'json']);
  t.is(u.code, 0, u.stderr);
  t.deepEqual(JSON.parse(u.stdout).conditions.map((c: { action: string }) => c.action), ['payments:send']);
  await until('the narrower amount', async () => (idOf(await pay(token, 200, 'acct-2')) === 'false:amount_threshold' ? true : undefined));
  decision(t, await pay(token, 100, 'acct-2'), true, 'permit', undefined);
  const cleared = await cli(['delegation', 'update', 'pol_pay', '--clear', 'conditions']);
  t.is(cleared.code, 0, cleared.stderr);
  t.regex(cleared.stdout, /^Conditions\s+: none$/m);
  await until('no conditions', async () => (idOf(await pay(token, 100_000, 'acct-3')) === 'true:permit' ? true : undefined));
  t.is((await pay(token, 100_000, 'acct-3')).json.decision, true);
});

test.serial('stored conditions survive a restart of the server', async (t) => {
  const u = await cli(['delegation', 'update', 'pol_pay', '--condition', 'payments:send,amount=500', '--condition', 'payments:quote,rate=1/1h']);
  t.is(u.code, 0, u.stderr);
  await env.restart();
  offset = 0;
  const shown = await cli(['delegation', 'show', 'pol_pay', '--output', 'json']);
  t.is(shown.code, 0, shown.stderr);
  t.deepEqual(JSON.parse(shown.stdout).conditions.map((c: { action: string }) => c.action), ['payments:send', 'payments:quote']);
  const skip = HOUR - ((Date.now() + offset) % HOUR) + 1000;
  env.advance(skip); offset += skip;
  const token = await payerToken('carol');
  decision(t, await pay(token, 600), false, 'amount_threshold', /^amount 600 is above 500/);
  decision(t, await pay(token, 500), true, 'permit');
  decision(t, await pay(token, undefined, undefined, 'payments:quote'), true, 'permit');
  decision(t, await pay(token, undefined, undefined, 'payments:quote'), false, 'rate_limited');
});
