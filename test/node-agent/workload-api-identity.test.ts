import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { startEndpoint, NOBODY, USER_1000, USER_1001 } from '../fixtures/workload-api-harness.ts';

type Svid = { spiffe_id: string; san: string; fingerprint: string; serial: string; certs: number; key_bytes: number; bundle_certs: number; claims: Record<string, string> };
const svidsOf = (m: Record<string, unknown>) => m.svids as Svid[];

test('a caller no entry matches gets PermissionDenied on every RPC', async (t) => {
  const ep = await startEndpoint(t, { entries: [{ id: 'a', spiffeId: 'spiffe://example.org/a', selectors: ['unix:uid:4242'] }] });
  for (const args of [['x509'], ['x509-bundles'], ['jwt-bundles'], ['jwt', '--audience', 'x'], ['validate', '--audience', 'x', '--svid', 'a.b.c']]) {
    const s = await ep.client(args, NOBODY).nth('status');
    t.is(s.code, grpc.status.PERMISSION_DENIED, args[0]);
  }
});

test('two workloads with different uids get different SVIDs and never each other\'s', async (t) => {
  const ep = await startEndpoint(t, {
    entries: [
      { id: 'u1000', spiffeId: 'spiffe://example.org/svc/u1000', selectors: ['unix:uid:1000'] },
      { id: 'u1001', spiffeId: 'spiffe://example.org/svc/u1001', selectors: ['unix:uid:1001', 'unix:gid:1001'] },
    ],
  });
  const [a, b] = [ep.client(['x509', '--once'], USER_1000), ep.client(['x509', '--once'], USER_1001)];
  const [ma, mb] = await Promise.all([a.nth('message'), b.nth('message')]);
  t.deepEqual(svidsOf(ma).map((s) => s.spiffe_id), ['spiffe://example.org/svc/u1000']);
  t.deepEqual(svidsOf(mb).map((s) => s.spiffe_id), ['spiffe://example.org/svc/u1001']);
  t.is(svidsOf(ma)[0]!.san, 'URI:spiffe://example.org/svc/u1000');
  t.true(svidsOf(ma)[0]!.key_bytes > 0);
  t.is(svidsOf(ma)[0]!.bundle_certs, 1);
  t.not(svidsOf(ma)[0]!.fingerprint, svidsOf(mb)[0]!.fingerprint);

  const [ja, jb] = await Promise.all([
    ep.client(['jwt', '--audience', 'aud'], USER_1000).nth('message'),
    ep.client(['jwt', '--audience', 'aud'], USER_1001).nth('message'),
  ]);
  const subs = (m: typeof ja) => (m.svids as { payload: { sub: string } }[]).map((s) => s.payload.sub);
  t.deepEqual(subs(ja), ['spiffe://example.org/svc/u1000']);
  t.deepEqual(subs(jb), ['spiffe://example.org/svc/u1001']);
  // Asking for the other workload's identity by name is refused, not served.
  const stolen = await ep.client(['jwt', '--audience', 'aud', '--spiffe-id', 'spiffe://example.org/svc/u1001'], USER_1000).nth('status');
  t.is(stolen.code, grpc.status.PERMISSION_DENIED);
});

test('selectors are matched as a set: a gid-only mismatch denies', async (t) => {
  const ep = await startEndpoint(t, { entries: [{ id: 'x', spiffeId: 'spiffe://example.org/x', selectors: ['unix:uid:1000', 'unix:gid:1001'] }] });
  const s = await ep.client(['x509'], USER_1000).nth('status');
  t.is(s.code, grpc.status.PERMISSION_DENIED);
});

test('two processes of one agent entry get different agent_instance_ids and certificates', async (t) => {
  const ep = await startEndpoint(t, {
    entries: [{ id: 'agent', spiffeId: 'spiffe://example.org/agent/planner', selectors: ['unix:uid:1000'], agent: { agent_model: 'm-1', agent_provider: 'p' } }],
  });
  const [a, b] = [ep.client(['x509', '--once'], USER_1000), ep.client(['x509', '--once'], USER_1000)];
  const [ma, mb] = await Promise.all([a.nth('message'), b.nth('message')]);
  const [sa, sb] = [svidsOf(ma)[0]!, svidsOf(mb)[0]!];
  t.is(sa.spiffe_id, sb.spiffe_id);
  t.not(sa.fingerprint, sb.fingerprint);
  t.regex(sa.claims.agent_instance_id!, /^inst_[A-Za-z0-9_-]{22}$/);
  t.not(sa.claims.agent_instance_id, sb.claims.agent_instance_id);
  t.is(sa.claims.agent_model, 'm-1');

  // JWT-SVIDs carry the instance id too, and it is stable for the life of the process:
  // a process holding its connection gets the same id on every call.
  const held = ep.client(['jwt', '--audience', 'aud', '--hold'], USER_1000);
  const j1 = await held.nth('message');
  const j2 = await ep.client(['jwt', '--audience', 'aud'], USER_1000).nth('message');
  const inst = (m: typeof j1) => (m.svids as { payload: Record<string, string> }[])[0]!.payload.agent_instance_id;
  t.regex(inst(j1)!, /^inst_/);
  t.not(inst(j1), inst(j2));
  t.false([sa.claims.agent_instance_id, sb.claims.agent_instance_id].includes(inst(j1)!));
});

test('processes of an entry without agent metadata share one SVID, as in SPIRE', async (t) => {
  const ep = await startEndpoint(t, { entries: [{ id: 'plain', spiffeId: 'spiffe://example.org/plain', selectors: ['unix:uid:1000'] }] });
  const [ma, mb] = await Promise.all([ep.client(['x509', '--once'], USER_1000).nth('message'), ep.client(['x509', '--once'], USER_1000).nth('message')]);
  t.is(svidsOf(ma)[0]!.fingerprint, svidsOf(mb)[0]!.fingerprint);
  t.deepEqual(svidsOf(ma)[0]!.claims, {});
  t.is(ep.provider.minted, 1);
});

test('the default identity comes first when several entries match', async (t) => {
  const ep = await startEndpoint(t, {
    entries: [
      { id: 'first', spiffeId: 'spiffe://example.org/first', selectors: ['unix:uid:1000'], hint: 'primary' },
      { id: 'second', spiffeId: 'spiffe://example.org/second', selectors: ['unix:gid:1000'], hint: 'secondary' },
    ],
  });
  const m = await ep.client(['x509', '--once'], USER_1000).nth('message');
  t.deepEqual(svidsOf(m).map((s) => s.spiffe_id), ['spiffe://example.org/first', 'spiffe://example.org/second']);
});
