import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { agentClient, attestNewAgent, sharedScope, startServer, unary, type TestServer } from '../helpers/server.ts';
import { makeRootCa, makeSvid } from '../helpers/pki.ts';

/**
 * Over a real TLS connection to a real tessera-server: a client certificate that TLS
 * refused (issued by another CA) is reported as such, not as "no certificate".
 */
const scope = sharedScope();
let srv: TestServer;
test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

const RPCS: [string, unknown][] = [['MintJWTSVID', { entry_id: 'e', audience: ['a'] }], ['GetBundle', {}]];

test('a certificate from another CA carrying a real agent\'s ID is refused as not issued by this trust domain\'s CA', async (t) => {
  const real = await attestNewAgent(t, srv);
  // Same trust domain name and the real agent's SPIFFE ID, but a CA the server never had.
  const impostorCa = await makeRootCa(srv.trustDomain);
  const forged = makeSvid(impostorCa, real.id);
  const client = agentClient(srv, { key: forged.privateKey, chain: [forged.leaf] });
  t.teardown(() => client.close());
  for (const [rpc, req] of RPCS) {
    const err = await t.throwsAsync(unary(client, rpc, req)) as grpc.ServiceError;
    t.is(err.code, grpc.status.PERMISSION_DENIED, rpc);
    t.regex(err.details, new RegExp(`client certificate for ${real.id.replace(/[.]/g, '\\.')} was not issued by this trust domain's CA \\(spiffe://example\\.org\\)`), rpc);
    t.notRegex(err.details, /no agent X\.509-SVID presented/, rpc);
  }
  // The genuine agent SVID still works on the same server.
  await t.notThrowsAsync(unary(real.client, 'GetBundle', {}));
});

test('no client certificate at all is still reported as no agent X.509-SVID presented', async (t) => {
  const client = agentClient(srv);
  t.teardown(() => client.close());
  const err = await t.throwsAsync(unary(client, 'GetBundle', {})) as grpc.ServiceError;
  t.is(err.code, grpc.status.PERMISSION_DENIED);
  t.regex(err.details, /no agent X\.509-SVID presented/);
});
