import test, { type ExecutionContext } from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, type HttpResult } from '../oauth/harness.ts';
import { startAuthzenEnv, TOOLS, type AuthzenEnv } from './authzen-harness.ts';

/**
 * Conditions richer than scopes (docs/authzen.md "Conditions"), decided by the AuthZEN
 * PDP of a real in-process server: an amount threshold, a first-seen destination, a rate
 * over a window. Serial: the rate test moves the server's clock.
 */
const scope = sharedScope();
let env: AuthzenEnv;
const PAYER = 'spiffe://example.org/agents/payer';
const HOUR = 3600_000;
let offset = 0;

test.before(async () => {
  env = await startAuthzenEnv(scope, {
    token_ttl: '2h',
    authzen_conditions: [
      { policy: 'pol_pay', action: 'payments:send', amount: { max: 500 }, first_seen: { max_amount: 50 } },
      { policy: 'pol_pay', action: 'payments:quote', rate: { max: 3, window: '1h' } },
    ],
  });
  await env.policy({ id: 'pol_pay', actors: [PAYER], groups: ['eng'], audiences: [TOOLS], scopes: ['payments:send', 'payments:quote'], maxTtl: 7200 });
});
test.after.always(() => scope.cleanup());

async function payerToken(user = 'alice'): Promise<string> {
  const exp = Math.floor((Date.now() + offset) / 1000) + 7200;
  const r = await env.exchange({ subject_token: await env.idp.token({ sub: user, groups: ['eng'], exp }), subject_token_type: ID_TOKEN, audience: TOOLS },
    env.svid('/agents/payer'));
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

// A fresh tool SVID each time: the rate test moves the server's clock past the first one's life.
const pay = (token: string, amount: unknown, destination?: string, action = 'payments:send') => env.pdp('/access/v1/evaluation', {
  subject: { type: 'agent', id: PAYER, properties: { token } },
  action: { name: action, properties: { ...(amount !== undefined ? { amount } : {}) } },
  resource: { type: 'payment', id: 'p', properties: { audience: TOOLS, ...(destination ? { destination } : {}) } },
}, { as: env.svid('/services/tools') });

function decision(t: ExecutionContext, r: HttpResult, allowed: boolean, id: string, message?: RegExp): void {
  t.is(r.status, 200, r.text);
  t.is(r.json.decision, allowed, r.text);
  t.is((r.json.context as any).id, id, r.text);
  if (message) t.regex((r.json.context as any).reason_admin.en, message);
}

test.serial('conditions attached by config still apply, and the server says they are deprecated', (t) => {
  const warned = env.logs.find((l) => String(l.msg).startsWith('oauth.authzen_conditions is deprecated'));
  t.truthy(warned, 'a deprecation warning at start');
  t.regex(String(warned!.msg), /delegation update POLICY --condition/);
  t.is(warned!.conditions, 2);
});

test.serial('amount threshold: above the maximum is denied, a missing amount is a request error', async (t) => {
  const token = await payerToken();
  await pay(token, 10, 'acct-1'); // known from here on: this test is about the amount
  decision(t, await pay(token, 600, 'acct-1'), false, 'amount_threshold', /^amount 600 is above 500, the most policy pol_pay allows for payments:send$/);
  decision(t, await pay(token, 500, 'acct-1'), true, 'permit');
  const missing = await pay(token, undefined, 'acct-1');
  decision(t, missing, false, 'condition_input', /^amount must be a number \(policy pol_pay limits payments:send by it\), got null$/);
  t.is((missing.json.context as any).error.status, 400);
});

test.serial('first-seen destination: only small amounts until a permitted action made it known, per user', async (t) => {
  const alice = await payerToken('alice');
  decision(t, await pay(alice, 100, 'acct-new'), false, 'novel_destination',
    /^destination "acct-new" was never used before: policy pol_pay allows payments:send to a first-seen destination only up to amount 50 \(asked 100\)$/);
  decision(t, await pay(alice, 40, 'acct-new'), true, 'permit');
  const known = await pay(alice, 100, 'acct-new');
  decision(t, known, true, 'permit');
  t.is((known.json.context as any).ttl, 0, 'a permit under conditions is never cacheable');
  decision(t, await pay(await payerToken('bob'), 100, 'acct-new'), false, 'novel_destination', /was never used before/);
  decision(t, await pay(alice, 10), false, 'condition_input', /^destination must be named/);
});

test.serial('rate over a window: the fourth in an hour is denied, the next hour starts afresh', async (t) => {
  // Start just after a window boundary, so all four fall into one window.
  const skip = HOUR - ((Date.now() + offset) % HOUR) + 1000;
  env.advance(skip); offset += skip;
  const token = await payerToken();
  for (let i = 0; i < 3; i++) decision(t, await pay(token, undefined, undefined, 'payments:quote'), true, 'permit');
  decision(t, await pay(token, undefined, undefined, 'payments:quote'), false, 'rate_limited',
    /^payments:quote is limited to 3 per 3600 s by policy pol_pay; the window's 3 are used$/);
  decision(t, await pay(await payerToken('bob'), undefined, undefined, 'payments:quote'), true, 'permit', undefined);
  env.advance(HOUR); offset += HOUR;
  decision(t, await pay(await payerToken(), undefined, undefined, 'payments:quote'), true, 'permit');
});
