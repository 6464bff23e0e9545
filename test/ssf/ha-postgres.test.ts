import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPushReceiver } from '../../spiffe/ssf/push.ts';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import type { TestServer } from '../helpers/server.ts';
import { httpsCall, until } from '../oauth/harness.ts';
import { HA_ISSUER, startTwoServersOnPostgres } from '../oauth/two-servers.ts';
import { httpReceiver, PUSH } from './ssf-harness.ts';

/**
 * Two real server processes on one PostgreSQL: both hear every revocation (the change
 * feed) and both try to queue and push it; the receiver gets each SET exactly once, and
 * a stream created through one server is served by the other.
 */
test('two servers on one PostgreSQL push each revocation once, whichever server heard it', async (t) => {
  const ha = await startTwoServersOnPostgres(t, 'tessera_ssf');
  if (!ha) { t.pass('skipped: no PostgreSQL'); return; }
  const { A, B, store } = ha;
  const addr = (s: TestServer) => readFileSync(join(s.dataDir, 'oauth.addr'), 'utf8').trim();
  const caPem = A.readBundle().pem;
  const receiver = await ha.svid();
  const call = (s: TestServer, method: string, path: string, body?: unknown) => httpsCall(addr(s), caPem, method, path, {
    as: receiver, ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' }),
  });

  const jwks = await httpsCall(addr(A), caPem, 'GET', '/oauth2/jwks');
  const keys = createStaticDelegationKeys(jwks.json as { keys: unknown[] });
  const byTxn = new Map<string, string[]>();
  const handler = createPushReceiver({
    // Both servers' keys: whichever queued the SET signed it (a kid we do not know yet is refetched).
    keys: { getKey: async (kid) => keys.getKey(kid) ?? createStaticDelegationKeys((await httpsCall(addr(B), caPem, 'GET', '/oauth2/jwks')).json as { keys: unknown[] }).getKey(kid) },
    issuer: HA_ISSUER, audience: receiver.id,
    onEvent: (ev) => { byTxn.set(ev.txn!, [...(byTxn.get(ev.txn!) ?? []), ev.jti]); },
  });
  // Every POST counted, so a second push of a queued SET (same jti: the handler would refuse it as a replay) shows.
  const answers: number[] = [];
  const { url } = await httpReceiver(t, (req, res) => { res.on('finish', () => answers.push(res.statusCode)); handler(req, res); });
  const created = await call(A, 'POST', '/ssf/stream', { delivery: { method: PUSH, endpoint_url: url } });
  t.is(created.status, 201, created.text);
  const id = created.json.stream_id as string;
  t.is((await call(B, 'GET', `/ssf/stream?stream_id=${id}`)).json.stream_id, id, 'the stream lives in the store: B serves it too');

  const N = 20;
  const now = Math.floor(Date.now() / 1000);
  const seqs: number[] = [];
  for (let i = 0; i < N; i++) seqs.push((await store.addRevocation({ kind: 'grant', value: `grt_ha${i}`, at: now, expiresAt: now + 300, by: 'test' })).seq);
  await until('every revocation at the receiver', () => (seqs.every((s) => byTxn.has(`rev:${s}`)) ? true : undefined), 60_000);
  // Both servers have queued and pushed what they would: nothing is left in the queue to push twice.
  await until('an empty queue', async () => ((await store.ssf.pending(id, 10)).length === 0 ? true : undefined), 60_000);
  for (const s of seqs) t.deepEqual(byTxn.get(`rev:${s}`)!.length, 1, `revocation ${s} pushed once`);
  t.is(byTxn.size, N);
  t.deepEqual(answers.filter((s) => s !== 202), [], 'no POST was refused (a duplicate would be a replay)');
  t.is(answers.length, N);
});
