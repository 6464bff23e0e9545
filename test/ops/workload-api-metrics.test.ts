import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { startEndpoint, USER_1000 } from '../fixtures/workload-api-harness.ts';
import type { WorkloadApiObserver } from '../../node-agent/workload-api/metrics-interceptor.ts';

/**
 * The Workload API's request metrics see every call, including those the caller
 * interceptor refuses before any handler runs, and label only the methods the socket
 * serves: any local user can send any path, and a path must never become a label.
 */

function recorder(): WorkloadApiObserver & { seen: { method: string; status: string; seconds: number }[] } {
  const seen: { method: string; status: string; seconds: number }[] = [];
  return { seen, request: (method, status, seconds) => { seen.push({ method, status, seconds }); } };
}

const unary = (client: grpc.Client, path: string, md: grpc.Metadata) => new Promise<grpc.ServiceError | undefined>((resolve) => {
  client.makeUnaryRequest(path, (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), md, (err) => resolve(err ?? undefined));
});

test('refused, unknown and served calls are each counted once with their status; unknown paths are "other"', async (t) => {
  const obs = recorder();
  const ep = await startEndpoint(t, {
    entries: [{ id: 'e1', spiffeId: 'spiffe://example.org/w', selectors: [`unix:uid:${USER_1000.uid}`] }],
    server: { observer: obs },
  });
  const client = new grpc.Client(`unix://${ep.socket}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const withHeader = new grpc.Metadata();
  withHeader.set('workload.spiffe.io', 'true');

  const noHeader = await unary(client, '/SpiffeWorkloadAPI/FetchJWTSVID', new grpc.Metadata());
  t.is(noHeader?.code, grpc.status.INVALID_ARGUMENT);
  const bogus = await unary(client, '/SpiffeWorkloadAPI/NoSuchMethod-12345', withHeader);
  t.is(bogus?.code, grpc.status.UNIMPLEMENTED);

  // A served stream, from a workload process with an identity: counted at its first response.
  const w = ep.client(['x509'], USER_1000);
  await w.nth('message');

  const byMethod = (m: string) => obs.seen.filter((s) => s.method === m).map((s) => s.status);
  t.deepEqual(byMethod('FetchJWTSVID'), ['INVALID_ARGUMENT']);
  t.true(byMethod('FetchX509SVID').includes('OK'));
  t.false(obs.seen.some((s) => s.method.includes('NoSuchMethod')));
  t.true(obs.seen.every((s) => s.seconds >= 0 && ['FetchJWTSVID', 'FetchX509SVID', 'other'].includes(s.method)));
});
