import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { startEndpoint, NOBODY } from '../fixtures/workload-api-harness.ts';

const entry = { id: 'nobody', spiffeId: 'spiffe://example.org/nobody', selectors: [`unix:uid:${NOBODY.uid}`] };

test('a request without the workload.spiffe.io header is rejected with InvalidArgument', async (t) => {
  const ep = await startEndpoint(t, { entries: [entry] });
  const c = ep.client(['x509', '--no-header']);
  const s = await c.nth('status');
  t.is(s.code, grpc.status.INVALID_ARGUMENT);
  t.regex(s.details!, /security header/);
  t.deepEqual(c.events().filter((e) => e.event === 'message'), []);
});

test('the header value must be exactly "true"', async (t) => {
  const ep = await startEndpoint(t, { entries: [entry] });
  for (const value of ['True', 'false', '1', '']) {
    const c = ep.client(['jwt', '--audience', 'a', '--header', value]);
    const s = await c.nth('status');
    t.is(s.code, grpc.status.INVALID_ARGUMENT, `value ${JSON.stringify(value)}`);
  }
  const ok = ep.client(['jwt', '--audience', 'a', '--header', 'true']);
  t.truthy(await ok.nth('message'));
});

test('the header is checked before the caller: an unknown caller without header gets InvalidArgument', async (t) => {
  const ep = await startEndpoint(t, { entries: [] });
  const s = await ep.client(['jwt', '--audience', 'a', '--no-header']).nth('status');
  t.is(s.code, grpc.status.INVALID_ARGUMENT);
});

test('FetchWITSVID and FetchWITBundles are Unimplemented', async (t) => {
  const ep = await startEndpoint(t, { entries: [entry] });
  for (const rpc of ['FetchWITSVID', 'FetchWITBundles', 'NoSuchMethod']) {
    const s = await ep.client([`raw:/SpiffeWorkloadAPI/${rpc}`]).nth('status');
    t.is(s.code, grpc.status.UNIMPLEMENTED, rpc);
  }
});

test('gRPC server reflection lists SpiffeWorkloadAPI (no header needed)', async (t) => {
  const ep = await startEndpoint(t, { entries: [] });
  const m = await ep.client(['reflect']).nth('message');
  // Regression: @grpc/reflection names package-less services ".SpiffeWorkloadAPI"; we re-key them.
  t.true((m.services as string[]).includes('SpiffeWorkloadAPI'), JSON.stringify(m.services));
  t.is(m.error, undefined);
  t.true((m.descriptors as number) >= 1, 'file_containing_symbol SpiffeWorkloadAPI resolves');
});
