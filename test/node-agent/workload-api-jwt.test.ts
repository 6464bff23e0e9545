import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { startEndpoint, USER_1000 } from '../fixtures/workload-api-harness.ts';

const agentEntry = { id: 'a', spiffeId: 'spiffe://example.org/agent/a', selectors: ['unix:uid:1000'], agent: { agent_model: 'm-2' } };
type Jwt = { spiffe_id: string; svid: string; payload: Record<string, unknown> };

test('FetchJWTSVID without an audience is InvalidArgument', async (t) => {
  const ep = await startEndpoint(t, { entries: [agentEntry] });
  const s = await ep.client(['jwt'], USER_1000).nth('status');
  t.is(s.code, grpc.status.INVALID_ARGUMENT);
  t.regex(s.details!, /audience/);
});

test('FetchJWTSVID with a malformed spiffe_id is InvalidArgument', async (t) => {
  const ep = await startEndpoint(t, { entries: [agentEntry] });
  const s = await ep.client(['jwt', '--audience', 'x', '--spiffe-id', 'https://nope'], USER_1000).nth('status');
  t.is(s.code, grpc.status.INVALID_ARGUMENT);
});

test('FetchJWTSVID returns a JWT-SVID for the audience carrying the agent claims', async (t) => {
  const ep = await startEndpoint(t, { entries: [agentEntry] });
  const m = await ep.client(['jwt', '--audience', 'svc-a', '--audience', 'svc-b', '--spiffe-id', agentEntry.spiffeId], USER_1000).nth('message');
  const [svid] = m.svids as Jwt[];
  t.is(svid!.spiffe_id, agentEntry.spiffeId);
  t.is(svid!.payload.sub, agentEntry.spiffeId);
  t.deepEqual(svid!.payload.aud, ['svc-a', 'svc-b']);
  t.is(svid!.payload.agent_model, 'm-2');
  t.regex(svid!.payload.agent_instance_id as string, /^inst_/);
});

test('ValidateJWTSVID accepts the right audience and returns the claims as a Struct', async (t) => {
  const ep = await startEndpoint(t, { entries: [agentEntry] });
  const [svid] = (await ep.client(['jwt', '--audience', 'svc'], USER_1000).nth('message')).svids as Jwt[];
  const v = await ep.client(['validate', '--audience', 'svc', '--svid', svid!.svid], USER_1000).nth('message');
  t.is(v.spiffe_id, agentEntry.spiffeId);
  const fields = (v.claims as { fields: Record<string, { stringValue?: string; listValue?: { values: { stringValue: string }[] } }> }).fields;
  t.is(fields.sub!.stringValue, agentEntry.spiffeId);
  t.is(fields.agent_model!.stringValue, 'm-2');
  t.deepEqual(fields.aud!.listValue!.values.map((x) => x.stringValue), ['svc']);
});

test('ValidateJWTSVID with a wrong audience fails with InvalidArgument', async (t) => {
  const ep = await startEndpoint(t, { entries: [agentEntry] });
  const [svid] = (await ep.client(['jwt', '--audience', 'svc'], USER_1000).nth('message')).svids as Jwt[];
  const s = await ep.client(['validate', '--audience', 'someone-else', '--svid', svid!.svid], USER_1000).nth('status');
  t.is(s.code, grpc.status.INVALID_ARGUMENT);
  t.regex(s.details!, /audience/);
});

test('ValidateJWTSVID requires both audience and svid', async (t) => {
  const ep = await startEndpoint(t, { entries: [agentEntry] });
  const noAud = await ep.client(['validate', '--svid', 'a.b.c'], USER_1000).nth('status');
  t.is(noAud.code, grpc.status.INVALID_ARGUMENT);
  t.regex(noAud.details!, /audience/);
  const noSvid = await ep.client(['validate', '--audience', 'x'], USER_1000).nth('status');
  t.is(noSvid.code, grpc.status.INVALID_ARGUMENT);
  t.regex(noSvid.details!, /svid/);
});
