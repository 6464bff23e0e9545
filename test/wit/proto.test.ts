import test from 'ava';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { WIT_DESCRIPTOR } from '../../spiffe/wit/proto.ts';

test('the embedded WIT-SVID profile descriptor is proto/spiffe/workloadapiwitsvid.proto', (t) => {
  const root = new protobuf.Root();
  root.loadSync(fileURLToPath(new URL('../../proto/spiffe/workloadapiwitsvid.proto', import.meta.url)), { keepCase: true });
  root.resolveAll();
  t.deepEqual(JSON.parse(JSON.stringify(root.toJSON({ keepComments: false }))), JSON.parse(JSON.stringify(WIT_DESCRIPTOR)));
});

test('the profile keeps the spec\'s service name and paths (no package)', (t) => {
  const root = protobuf.Root.fromJSON(WIT_DESCRIPTOR as protobuf.INamespace);
  const svc = root.lookupService('SpiffeWorkloadAPI');
  t.deepEqual(Object.keys(svc.methods).sort(), ['FetchWITBundles', 'FetchWITSVID']);
  t.is(svc.fullName, '.SpiffeWorkloadAPI');
});
