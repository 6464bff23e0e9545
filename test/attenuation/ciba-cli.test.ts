import test from 'ava';
import { runCli, sharedScope } from '../helpers/server.ts';
import { until } from '../oauth/harness.ts';
import { approvalIdOf, PLANNER, RS, startCibaEnv, type CibaEnv } from './ciba-harness.ts';

/**
 * Human approval configured from the CLI (docs/attenuation.md "Human approval"): a policy
 * created by `tessera-server delegation create --approval-scope` makes review:post
 * approvable at /oauth2/bc-authorize, `approval list` shows the pending request, and
 * `delegation update --clear approval` takes the escalation away again.
 */
const scope = sharedScope();
let env: CibaEnv;
test.before(async () => { env = await startCibaEnv(scope); });
test.after.always(() => scope.cleanup());

const cli = (args: string[]) => runCli(args, env.server.adminSocket);

test('a policy created with --approval-scope by the CLI makes the scope approvable; approval list shows the request; --clear approval ends it', async (t) => {
  const c = await cli(['delegation', 'create', '--id', 'pol_cli_planner', '--actor', PLANNER, '--issuer', env.op.issuer, '--audience', RS,
    '--scope', 'files:read', '--approval-scope', 'review:post', '--approver', 'subject', '--output', 'json']);
  t.is(c.code, 0, c.stderr);
  const planner = env.svid('/agents/planner');
  const ask = async () => env.bcAuthorize({ id_token_hint: await env.idToken('alice'), scope: 'files:read review:post', audience: RS,
    binding_message: 'post the review' }, planner);

  // The policy reaches the engine through the store's change feed.
  const r = await until('the CLI policy to allow the escalation', async () => { const x = await ask(); return x.status === 200 ? x : undefined; });
  const id = await approvalIdOf(env, r.json.auth_req_id as string);

  const listed = await cli(['approval', 'list', '--pending', '--output', 'json']);
  t.is(listed.code, 0, listed.stderr);
  const alice = `${env.op.issuer}#alice`;
  t.like((JSON.parse(listed.stdout) as { id: string }[]).find((x) => x.id === id), {
    status: 'pending', client_id: PLANNER, subject: alice, policy: 'pol_cli_planner', escalated: ['review:post'],
    scopes: ['files:read', 'review:post'], audiences: [RS], binding_message: 'post the review', approvers: [`user:${alice}`], decided_by: '',
  });
  t.deepEqual(JSON.parse((await cli(['approval', 'list', '--subject', `${env.op.issuer}#bob`, '--output', 'json'])).stdout), []);
  const table = await cli(['approval', 'list', '--subject', alice]);
  t.regex(table.stdout, /^ID\s+STATUS\s+AGENT/);
  t.regex(table.stdout, new RegExp(`${id}\\s+pending\\s+${PLANNER}`));

  const cleared = await cli(['delegation', 'update', 'pol_cli_planner', '--clear', 'approval']);
  t.is(cleared.code, 0, cleared.stderr);
  const refused = await until('the policy without approval to refuse the escalation', async () => { const x = await ask(); return x.status === 400 ? x : undefined; });
  t.is(refused.json.error, 'invalid_scope');
});
