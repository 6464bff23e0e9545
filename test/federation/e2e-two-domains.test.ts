import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, adminCall, type TestServer } from '../helpers/server.ts';
import { agentCli, startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry, ALICE } from '../helpers/agent-e2e.ts';
import { until } from '../helpers/wait.ts';
import { tempDir } from '../helpers/tmp.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { X509Source } from '../../spiffe/workloadapi/x509-source.ts';
import { JWTSource } from '../../spiffe/workloadapi/jwt-source.ts';
import { authorizeID, authorizeMemberOf } from '../../spiffe/tls/authorizers.ts';
import { createMtlsAgent } from '../../spiffe/tls/client.ts';
import { createMtlsHttpsServer } from '../../spiffe/tls/server.ts';
import { getPeer } from '../../spiffe/tls/peer.ts';
import { createJwtRequestValidator } from '../../spiffe/jwtsvid/http-validator.ts';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { get } from '../sdk/fixtures.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';

/**
 * Two Tessera deployments in one test: servers and agents of trust domains a.test and
 * b.test, each serving its bundle endpoint (https_spiffe, the server SVID) and
 * federating with the other through `tessera-server federation create`, bootstrapped
 * with the other's `bundle show --format spiffe`. A workload in a.test and one in
 * b.test (this process, attested by each agent) talk mTLS through the SDK; a CA
 * rotation in b.test reaches a.test's workload within the refresh hint b publishes.
 */
const A = TrustDomain.parse('a.test');
const B = TrustDomain.parse('b.test');
const REFRESH_HINT_S = 3;
const ME = process.getuid!();

async function deployment(t: ExecutionContext, td: string): Promise<{ srv: TestServer; agent: TestAgent; endpoint: string }> {
  const srv = await startServer(t, {
    trustDomain: td,
    config: { bundle: { refresh_hint: REFRESH_HINT_S }, federation: { bundle_endpoint: { listen: '127.0.0.1:0' }, retry_initial: 0.2 } },
  });
  const endpoint = `https://${readFileSync(join(srv.dataDir, 'bundle-endpoint.addr'), 'utf8').trim()}/`;
  const agent = await startAgent(t, { server: srv, logLevel: 'info' });
  return { srv, agent, endpoint };
}

/** `federation create` on `srv` for the other deployment, bootstrapped with its `bundle show --format spiffe`. */
async function federate(t: ExecutionContext, srv: TestServer, other: { srv: TestServer; endpoint: string }): Promise<void> {
  const shown = await other.srv.cli(['bundle', 'show', '--format', 'spiffe']);
  t.is(shown.code, 0, shown.stderr);
  const file = join(tempDir(t, 'tfb-'), 'bootstrap.json');
  writeFileSync(file, shown.stdout);
  const r = await srv.cli(['federation', 'create', '--output', 'json', '--trust-domain', other.srv.trustDomain,
    '--bundle-endpoint-url', other.endpoint, '--bundle-endpoint-profile', 'https_spiffe',
    '--endpoint-spiffe-id', `spiffe://${other.srv.trustDomain}/tessera/server`, '--trust-domain-bundle-path', file]);
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { trust_domain: other.srv.trustDomain, bundle_endpoint_profile: 'https_spiffe', source: 'api' });
}

const authorities = (src: X509Source, td: TrustDomain) => src.getX509BundleForTrustDomain(td)?.authorities.map((d) => Buffer.from(d).toString('hex')) ?? [];

test('two trust domains federate both ways over https_spiffe; workloads talk mTLS; a CA rotation in b reaches a within the refresh hint', async (t) => {
  t.timeout(240_000);
  const [a, b] = await Promise.all([deployment(t, 'a.test'), deployment(t, 'b.test')]);
  await federate(t, a.srv, b);
  await federate(t, b.srv, a);

  // Entries: this process in each trust domain, federating with the other; ALICE in a.test without federation.
  await createEntry(a.srv, a.agent.spiffeId, 'spiffe://a.test/client', [`unix:uid:${ME}`], ['--federates-with', 'b.test']);
  await createEntry(a.srv, a.agent.spiffeId, 'spiffe://a.test/plain', [`unix:uid:${ALICE.uid}`]);
  await createEntry(b.srv, b.agent.spiffeId, 'spiffe://b.test/service', [`unix:uid:${ME}`], ['--federates-with', 'a.test']);

  const srcA = await X509Source.create({ address: a.agent.endpoint });
  const srcB = await X509Source.create({ address: b.agent.endpoint });
  t.teardown(async () => { await srcA.close(); await srcB.close(); });
  await until(() => authorities(srcA, B).length > 0 && authorities(srcB, A).length > 0, 'each workload to hold the other trust domain\'s bundle');
  t.is(srcA.getX509Svid().id.toString(), 'spiffe://a.test/client');

  // The fetched bundles are ordinary bundles: bundle list / show, and the relationship's status.
  const listed = await a.srv.cli(['bundle', 'list', '--output', 'json']);
  t.deepEqual(JSON.parse(listed.stdout).map((x: { trust_domain: string }) => x.trust_domain), ['b.test']);
  const shown = JSON.parse((await a.srv.cli(['federation', 'show', 'b.test', '--output', 'json'])).stdout);
  t.true(shown.status.last_success_at > 0);
  t.is(shown.status.refresh_hint, REFRESH_HINT_S);
  t.is(shown.status.last_error_code, '');

  // Only entries that federate get foreign bundles: ALICE's workload in a.test gets none.
  const plain = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', a.agent.socketPath], ALICE);
  t.is(plain.code, 0, plain.stderr);
  t.deepEqual(JSON.parse(plain.stdout).federated_bundles, []);
  const mine = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', a.agent.socketPath]);
  t.deepEqual(JSON.parse(mine.stdout).federated_bundles, ['spiffe://b.test']);

  // mTLS across the trust domains with the SDK: b's service admits a.test members; a's client wants exactly b's service.
  const server = createMtlsHttpsServer({ source: srcB, authorize: authorizeMemberOf(A) }, (req, res) => res.end(getPeer(req)!.id.toString()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
  const port = (server.address() as AddressInfo).port;
  const client = createMtlsAgent({ source: srcA, authorize: authorizeID('spiffe://b.test/service'), agent: { keepAlive: false } });
  const first = await get(port, client, '/');
  t.is(first.status, 200);
  t.is(first.body, 'spiffe://a.test/client');
  t.is(getPeer(first.socket)!.id.toString(), 'spiffe://b.test/service');
  // A verified federated peer is still refused when the authorizer does not allow it.
  const ownOnly = createMtlsAgent({ source: srcA, authorize: authorizeMemberOf(A), agent: { keepAlive: false } });
  await t.throwsAsync(get(port, ownOnly, '/'), { code: 'ERR_AUTHORIZATION' });

  // JWT-SVIDs too: b's token, validated in a.test with the bundles of FetchJWTBundles, only when the authorizer allows.
  const jwtA = await JWTSource.create({ address: a.agent.endpoint });
  const jwtB = await JWTSource.create({ address: b.agent.endpoint });
  t.teardown(async () => { await jwtA.close(); await jwtB.close(); });
  const token = (await jwtB.fetchJwtSvid({ audience: 'spiffe://a.test/client' })).token;
  const req = { headers: { authorization: `Bearer ${token}` } } as IncomingMessage;
  const accepted = await createJwtRequestValidator({ audience: 'spiffe://a.test/client', validator: jwtA, authorize: authorizeMemberOf(B) })(req);
  t.is(accepted.id.toString(), 'spiffe://b.test/service');
  await t.throwsAsync(createJwtRequestValidator({ audience: 'spiffe://a.test/client', validator: jwtA, authorize: authorizeMemberOf(A) })(req), { code: 'ERR_AUTHORIZATION' });
  t.is((await jwtA.validateJwtSvid(token, 'spiffe://a.test/client')).id.toString(), 'spiffe://b.test/service', 'agent a validates it online (ValidateJWTSVID)');

  // CA rotation in b.test: the prepared CA enters b's bundle; a's workload must hold it
  // before b activates it. Measured from the prepare's return to the workload's update.
  const bundleB = async () => (await adminCall<{ x509_authorities: Buffer[] }>(b.srv.admin().bundle, 'GetBundle', {})).x509_authorities.map((d) => Buffer.from(d).toString('hex'));
  const oldCas = new Set(await bundleB());
  const prepared = await adminCall<{ authority_id: string }>(b.srv.admin().localAuthority, 'PrepareAuthority', { kind: 'x509' });
  const preparedAt = Date.now();
  const newCa = (await bundleB()).find((h) => !oldCas.has(h))!;
  t.truthy(newCa);
  await until(() => authorities(srcA, B).includes(newCa), 'b\'s new CA in a\'s workload bundle');
  const propagationMs = Date.now() - preparedAt;
  t.log(`b.test CA prepared -> in a.test workload's bundle: ${propagationMs} ms (refresh hint ${REFRESH_HINT_S} s)`);
  console.log(JSON.stringify({ measure: 'federated_ca_propagation_ms', value: propagationMs, refresh_hint_s: REFRESH_HINT_S }));

  // Activate, and taint the old CA so b's agent re-mints the service SVID under the new one now.
  const [oldActive] = (await adminCall<{ authorities: { authority_id: string; state: string }[] }>(b.srv.admin().localAuthority, 'GetAuthorityState', { kind: 'x509' }))
    .authorities.filter((x) => x.state === 'active');
  await adminCall(b.srv.admin().localAuthority, 'ActivateAuthority', { kind: 'x509', authority_id: prepared.authority_id });
  await adminCall(b.srv.admin().localAuthority, 'TaintAuthority', { kind: 'x509', authority_id: oldActive!.authority_id });
  const signedByNewCa = () => {
    const aki = readCertificate(srcB.getX509Svid().certificates[0]!).authorityKeyId;
    return aki !== undefined && Buffer.from(aki).toString('hex') === prepared.authority_id;
  };
  await until(signedByNewCa, 'b\'s service SVID signed by the new CA');
  const afterRotation = await get(port, client, '/');
  t.is(afterRotation.status, 200);
  const chain = getPeer(afterRotation.socket)!.verifiedChain!;
  t.is(Buffer.from(chain[chain.length - 1]!).toString('hex'), newCa, 'a verified b\'s new SVID with the fetched bundle');
});
