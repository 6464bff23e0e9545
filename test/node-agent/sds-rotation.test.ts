import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { startServer, type TestServer } from '../helpers/server.ts';
import { startAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { b64, derCerts, envoyClient, keyMatches, pemCerts, type SecretJson } from './sds-envoy-client.ts';

/**
 * Rotation pushed on an open StreamSecrets stream, with real server and agent processes
 * and a process playing Envoy: preparing a new CA pushes the grown ROOTCA; activating
 * it and tainting the old one re-mints the SVID at once, which is pushed too. Each push
 * is a new version with a new nonce, and what Envoy gets is what the Workload API gives
 * the same process.
 */
async function cliJson<T>(srv: TestServer, args: string[]): Promise<T> {
  const r = await srv.cli([...args, '--output', 'json']);
  if (r.code !== 0) throw new Error(`tessera-server ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
const byName = (rs: SecretJson[] | undefined, name: string) => rs!.find((r) => r.name === name)!;
const chainOf = (s: SecretJson) => pemCerts(b64(s.tls_certificate!.certificate_chain.inline_bytes).toString());
const rootsOf = (s: SecretJson) => pemCerts(b64(s.validation_context!.custom_validator_config!.typed_config.trust_domains[0]!.trust_bundle.inline_bytes).toString());

test('a prepared CA and a re-minted SVID are pushed on the open stream, each as a new version and nonce', async (t) => {
  t.timeout(480_000); // a bound for a stuck agent on a loaded machine, not an expected time
  const srv = await startServer(t);
  const agent = await startAgent(t, { server: srv });
  const who = { uid: 5201, gid: 5201 };
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/envoy', [`unix:uid:${who.uid}`]);
  const e = await envoyClient(t, agent.socketPath, who);
  e.send({ op: 'open', id: 's', names: ['default', 'ROOTCA'] });
  const r1 = (await e.event('s', 0)).response!;
  e.send({ op: 'ack', id: 's' });
  const firstLeaf = chainOf(byName(r1.resources, 'default'))[0]!;
  t.is(rootsOf(byName(r1.resources, 'ROOTCA')).length, 1);

  type Authority = { authority_id: string };
  const [old] = await cliJson<Authority[]>(srv, ['localauthority', 'x509', 'show']);
  const prepareStarted = Date.now();
  const prepared = await cliJson<Authority>(srv, ['localauthority', 'x509', 'prepare']);
  const r2 = await e.event('s', 1);
  t.log(`CA prepare CLI started -> grown ROOTCA on the SDS stream: ${r2.at! - prepareStarted} ms (incl. the CLI process)`);
  t.is(r2.response!.version_info, '2');
  t.not(r2.response!.nonce, r1.nonce);
  t.is(rootsOf(byName(r2.response!.resources, 'ROOTCA')).length, 2);
  t.deepEqual(chainOf(byName(r2.response!.resources, 'default'))[0], firstLeaf, 'preparing re-mints nothing');
  e.send({ op: 'ack', id: 's' });

  await cliJson(srv, ['localauthority', 'x509', 'activate', '--authority-id', prepared.authority_id]);
  const mark = agent.proc.stderr().length;
  await cliJson(srv, ['localauthority', 'x509', 'taint', '--authority-id', old!.authority_id]);
  const r3 = await e.event('s', 2);
  t.is(r3.response!.version_info, '3');
  t.not(r3.response!.nonce, r2.response!.nonce);
  const leaf = chainOf(byName(r3.response!.resources, 'default'))[0]!;
  t.notDeepEqual(leaf, firstLeaf);
  const newCa = rootsOf(byName(r3.response!.resources, 'ROOTCA')).map((d) => new X509Certificate(d));
  t.true(newCa.some((ca) => new X509Certificate(leaf).verify(ca.publicKey)), 'signed by a CA in the pushed ROOTCA');
  const rotatedLine = await until('the rotation in the agent log', () => agent.proc.stderr().slice(mark).split('\n').find((l) => l.includes('"msg":"rotated X.509-SVIDs"')));
  t.log(`agent logged the re-minted SVID -> pushed on the SDS stream: ${r3.at! - Date.parse((JSON.parse(rotatedLine) as { time: string }).time)} ms`);

  e.send({ op: 'wapi', id: 'w' });
  const wapi = (await e.event('w')).svids![0]!;
  t.deepEqual(chainOf(byName(r3.response!.resources, 'default')), derCerts(b64(wapi.x509_svid)), 'the Workload API\'s SVID');
  t.true(keyMatches(b64(byName(r3.response!.resources, 'default').tls_certificate!.private_key.inline_bytes).toString(), leaf));
  // Acknowledged; nothing more comes without a change (checked by the next answered request).
  e.send({ op: 'ack', id: 's' });
  e.send({ op: 'request', id: 's', names: ['default'] });
  t.is((await e.event('s', 3)).response!.version_info, '4');
  t.is(e.count('s'), 4);
  // The agent stopping ends the stream with Unavailable (Envoy reconnects), not after a drain timeout.
  await agent.stop();
  t.is((await e.event('s', 4)).code, 14);
});
