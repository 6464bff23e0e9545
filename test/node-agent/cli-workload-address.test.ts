import test from 'ava';
import { parseWorkloadApiAddress, addressFromEnv } from '../../spiffe/workloadapi/address.ts';
import { agentCli } from '../helpers/agent.ts';

test('SPIFFE_ENDPOINT_SOCKET accepts unix:///path and tcp://ip:port', (t) => {
  t.deepEqual(parseWorkloadApiAddress('unix:///run/tessera/agent.sock'), { kind: 'unix', path: '/run/tessera/agent.sock' });
  t.deepEqual(parseWorkloadApiAddress('tcp://127.0.0.1:8000'), { kind: 'tcp', host: '127.0.0.1', port: 8000 });
});

for (const bad of ['unix:relative', 'unix://host/path', 'unix:///p?q=1', 'tcp://localhost:80', 'tcp://127.0.0.1', 'tcp://127.0.0.1:80/p', 'http://127.0.0.1:80', 'nonsense']) {
  test(`endpoint address "${bad}" is rejected with ERR_ADDRESS_INVALID`, (t) => {
    t.throws(() => parseWorkloadApiAddress(bad), { code: 'ERR_ADDRESS_INVALID' } as never);
  });
}

test('a missing SPIFFE_ENDPOINT_SOCKET is a typed error', (t) => {
  t.throws(() => addressFromEnv({}), { code: 'ERR_ADDRESS_INVALID' } as never);
});

test('api fetch x509 without --socket or SPIFFE_ENDPOINT_SOCKET falls back to the default socket, and says when no agent is there (exit 2)', async (t) => {
  const r = await agentCli(['api', 'fetch', 'x509'], { env: { SPIFFE_ENDPOINT_SOCKET: '' } });
  t.is(r.code, 2);
  t.regex(r.stderr, /no Workload API socket at \/(run|tmp)\/tessera\/agent\.sock: is tessera-agent running\?/);
});

test('healthcheck against a socket nobody serves is unhealthy (exit 1, JSON on request)', async (t) => {
  const r = await agentCli(['healthcheck', '--socket', '/tmp/no-such-tessera.sock', '--timeout', '2', '--output', 'json']);
  t.is(r.code, 1);
  t.false(JSON.parse(r.stdout).healthy);
});

test('every verb has --help', async (t) => {
  for (const verb of [['run'], ['api', 'fetch', 'x509'], ['api', 'fetch', 'jwt'], ['api', 'validate', 'jwt'], ['api', 'watch'], ['healthcheck']]) {
    const r = await agentCli([...verb, '--help']);
    t.is(r.code, 0, verb.join(' '));
    t.regex(r.stdout, /Usage: tessera-agent/);
  }
});
