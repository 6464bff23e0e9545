import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { SpiffeId } from '../../spiffe/id.ts';
import { BrokerPolicy } from '../../node-agent/broker/policy.ts';
import { parseReference } from '../../node-agent/broker/reference.ts';
import { errorInfoOf, referenceInvalid, toBrokerStatus, workloadNotFound } from '../../node-agent/broker/errors.ts';
import { K8S_OBJECT_REFERENCE_TYPE, loadBrokerApiProto, pidReference } from '../../node-agent/broker/proto.ts';
import { parseAgentConfig } from '../../node-agent/config.ts';
import { ConfigValidationError } from '../../common/config.ts';

const id = (s: string) => SpiffeId.parse(s);
const k8s = (o: Record<string, unknown>) => {
  const t = loadBrokerApiProto().types.k8sObject;
  return { reference: { reference: { type_url: K8S_OBJECT_REFERENCE_TYPE, value: Buffer.from(t.encode(t.create(o)).finish()) } } };
};

test('the policy allows only listed brokers, and only the reference types their grant names', (t) => {
  const p = new BrokerPolicy([{ spiffeId: 'spiffe://example.org/gw' }, { spiffeId: 'spiffe://example.org/mesh', referenceTypes: ['pid'] }]);
  t.notThrows(() => p.authorizeReference(id('spiffe://example.org/gw'), 'kubernetes_object'));
  t.notThrows(() => p.authorizeReference(id('spiffe://example.org/mesh'), 'pid'));
  const e1 = t.throws(() => p.authorizeReference(id('spiffe://example.org/mesh'), 'kubernetes_object'));
  t.regex(e1!.message, /may not use kubernetes_object references \(allowed: pid\)/);
  t.is(toBrokerStatus(e1).code, grpc.status.PERMISSION_DENIED);
  const e2 = t.throws(() => p.authorizeCaller(id('spiffe://example.org/other')));
  t.regex(e2!.message, /spiffe:\/\/example\.org\/other is not an allowed broker/);
  t.is(toBrokerStatus(e2).code, grpc.status.PERMISSION_DENIED);
});

test('a PID reference is unpacked; a missing, unknown or non-positive one is WORKLOAD_REFERENCE_INVALID', (t) => {
  t.deepEqual(parseReference({ reference: pidReference(1234) }), { kind: 'pid', pid: 1234 });
  for (const req of [{}, { reference: {} }, { reference: { reference: { type_url: 'type.googleapis.com/x.Y', value: Buffer.alloc(0) } } }, { reference: pidReference(0) }]) {
    const e = t.throws(() => parseReference(req as never));
    const s = toBrokerStatus(e);
    t.is(s.code, grpc.status.INVALID_ARGUMENT);
    t.deepEqual(errorInfoOf(s.metadata)?.reason, 'WORKLOAD_REFERENCE_INVALID');
  }
});

test('a Kubernetes object reference needs type.plural and type.group, and key or uid', (t) => {
  const uid = 'A1B2C3D4-E5F6-7890-ABCD-EF1234567890';
  t.deepEqual(parseReference(k8s({ type: { plural: 'pods', group: 'core' }, uid })), { kind: 'kubernetes_object', type: { plural: 'pods', group: 'core' }, uid: uid.toLowerCase() });
  t.deepEqual(parseReference(k8s({ type: { plural: 'deployments', group: 'apps' }, key: { namespace: 'shop', name: 'checkout' } })),
    { kind: 'kubernetes_object', type: { plural: 'deployments', group: 'apps' }, key: { namespace: 'shop', name: 'checkout' } });
  t.throws(() => parseReference(k8s({ type: { plural: 'pods' }, uid })), { message: /plural and group/ });
  t.throws(() => parseReference(k8s({ type: { plural: 'pods', group: 'core' } })), { message: /key or uid/ });
  t.throws(() => parseReference(k8s({ type: { plural: 'pods', group: 'core' }, key: { namespace: 'x' } })), { message: /key\.name is required/ });
  t.throws(() => parseReference(k8s({ type: { plural: 'pods', group: 'core' }, uid: 'nope' })), { message: /must be a UUID/ });
});

test('reference errors carry google.rpc.ErrorInfo with the spec\'s reason and domain', (t) => {
  const s = toBrokerStatus(workloadNotFound('no process with pid 7 on this node', { pid: '7' }));
  t.is(s.code, grpc.status.NOT_FOUND);
  t.deepEqual(errorInfoOf(s.metadata), { reason: 'WORKLOAD_NOT_FOUND', domain: 'spiffe.io', metadata: { pid: '7' } });
  t.is(errorInfoOf(toBrokerStatus(referenceInvalid('x')).metadata)?.reason, 'WORKLOAD_REFERENCE_INVALID');
});

const base = { server_address: '127.0.0.1:8081', trust_domain: 'example.org', ca_fingerprint: 'a'.repeat(64), node_attestor: { method: 'join_token', join_token: { token: 't' } } };

test('config: the broker section is optional, and needs a socket and at least one valid broker ID', (t) => {
  t.is(parseAgentConfig(base).broker, undefined);
  const c = parseAgentConfig({ ...base, broker: { socket_path: '/run/tessera/broker.sock', allow: [{ spiffe_id: 'spiffe://example.org/gw', reference_types: ['pid'] }, { spiffe_id: 'spiffe://example.org/mesh' }] } });
  t.deepEqual(c.broker, { socketPath: '/run/tessera/broker.sock', allow: [{ spiffeId: 'spiffe://example.org/gw', referenceTypes: ['pid'] }, { spiffeId: 'spiffe://example.org/mesh' }] });
  const empty = t.throws(() => parseAgentConfig({ ...base, broker: { socket_path: '/x.sock', allow: [] } }), { instanceOf: ConfigValidationError });
  t.regex(empty!.message, /broker\.allow.*at least one broker/);
  const bad = t.throws(() => parseAgentConfig({ ...base, broker: { socket_path: '/x.sock', allow: [{ spiffe_id: 'http://nope' }] } }), { instanceOf: ConfigValidationError });
  t.regex(bad!.message, /broker\.allow\.0\.spiffe_id|broker\.allow\[0\]\.spiffe_id/);
  const type = t.throws(() => parseAgentConfig({ ...base, broker: { socket_path: '/x.sock', allow: [{ spiffe_id: 'spiffe://example.org/gw', reference_types: ['container'] }] } }), { instanceOf: ConfigValidationError });
  t.regex(type!.message, /reference_types/);
});
