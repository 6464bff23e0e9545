import test from 'ava';
import { readFileSync } from 'node:fs';
import { DESCRIPTOR_FILE, renderDescriptorModule, workloadDescriptor } from '../../packages/sdk/build/workload-descriptor.ts';
import { loadWorkloadProto, workloadPackageDefinition } from '../../spiffe/workloadapi/proto.ts';
import { loadWorkloadApiProto } from '../../node-agent/workload-api/proto.ts';

test('the embedded Workload API descriptor is what proto/spiffe/workload.proto generates (npm run gen:descriptor)', (t) => {
  t.is(readFileSync(DESCRIPTOR_FILE, 'utf8'), renderDescriptorModule(workloadDescriptor()));
});

test('the SDK\'s embedded definition matches the agent\'s, method by method, and encodes messages identically', (t) => {
  const sdk = loadWorkloadProto().SpiffeWorkloadAPI.service;
  const agent = loadWorkloadApiProto().service;
  t.deepEqual(Object.keys(sdk).sort(), Object.keys(agent).sort());
  for (const [name, m] of Object.entries(sdk)) {
    const a = agent[name as keyof typeof agent];
    t.is(m.path, a.path);
    t.is(m.requestStream, a.requestStream, name);
    t.is(m.responseStream, a.responseStream, name);
  }
  t.is(sdk.FetchX509SVID.path, '/SpiffeWorkloadAPI/FetchX509SVID');
  const msg = {
    svids: [{ spiffe_id: 'spiffe://example.org/w', x509_svid: Buffer.from([1, 2]), x509_svid_key: Buffer.from([3]), bundle: Buffer.from([4]), hint: 'h' }],
    crl: [], federated_bundles: { 'spiffe://other.org': Buffer.from([5]) },
  };
  const bytes = agent.FetchX509SVID.responseSerialize(msg);
  t.deepEqual(sdk.FetchX509SVID.responseSerialize(msg), bytes);
  t.deepEqual(sdk.FetchX509SVID.responseDeserialize(bytes), agent.FetchX509SVID.responseDeserialize(bytes));
  // google.protobuf.Struct comes from protobufjs's bundled well-known types in both.
  const validated = { spiffe_id: 'spiffe://example.org/w', claims: { fields: { agent_model: { stringValue: 'm' }, n: { numberValue: 2 } } } };
  const vbytes = agent.ValidateJWTSVID.responseSerialize(validated);
  t.true(vbytes.length > 0);
  t.deepEqual(sdk.ValidateJWTSVID.responseSerialize(validated), vbytes);
  t.deepEqual(sdk.ValidateJWTSVID.responseDeserialize(vbytes), agent.ValidateJWTSVID.responseDeserialize(vbytes));
});

test('the embedded definition yields the same file descriptors as the .proto on disk (what gRPC reflection serves)', (t) => {
  const embedded = workloadPackageDefinition();
  const disk = loadWorkloadApiProto().packageDefinition;
  const files = (d: typeof disk) => (d['X509SVIDResponse'] as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos;
  t.is(files(embedded).length, 2); // workload.proto + google/protobuf/struct.proto
  t.deepEqual(files(embedded), files(disk));
});
