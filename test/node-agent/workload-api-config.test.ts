import test from 'ava';
import { parseAgentConfig } from '../../node-agent/config.ts';

const base = { server_address: '127.0.0.1:8081', trust_domain: 'example.org', trust_bundle_path: '/b.pem', node_attestor: { method: 'join_token', join_token: { token: 'abcdefgh' } } };

test('workload_api.idle_timeout defaults to 30 s and takes a duration', (t) => {
  t.is(parseAgentConfig(base).workloadApi.idleTimeoutMs, 30_000);
  t.is(parseAgentConfig({ ...base, workload_api: { idle_timeout: '2s' } }).workloadApi.idleTimeoutMs, 2_000);
  t.is(parseAgentConfig({ ...base, workload_api: { idle_timeout: '1.5' } }).workloadApi.idleTimeoutMs, 1_500);
});

test('a bad workload_api section stops the agent naming the key', (t) => {
  t.throws(() => parseAgentConfig({ ...base, workload_api: { idle_timeout: 0 } }), { message: /workload_api\.idle_timeout: must be at least 1s/ });
  t.throws(() => parseAgentConfig({ ...base, workload_api: { idle_timeout: 'soon' } }), { message: /workload_api\.idle_timeout: must be a duration/ });
  t.throws(() => parseAgentConfig({ ...base, workload_api: { idle: '5s' } }), { message: /workload_api\.idle: unknown key/ });
});
