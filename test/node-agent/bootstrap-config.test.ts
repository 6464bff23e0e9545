import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { applyOverrides, parseAgentConfig } from '../../node-agent/config.ts';
import { parseFingerprint, fingerprintOf } from '../../spiffe/fingerprint.ts';
import { AgentStore } from '../../node-agent/bootstrap/store.ts';
import { loadBundleFile } from '../../node-agent/bootstrap/bundle.ts';
import { makeRootCa, makeSvid, writePem } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';
import { statSync } from 'node:fs';
import { join } from 'node:path';

const base = { server_address: '127.0.0.1:8081', trust_domain: 'example.org', trust_bundle_path: '/b.pem', node_attestor: { method: 'join_token', join_token: { token: 'abcdefgh' } } };

test('config: an unknown key stops the agent naming the key', (t) => {
  t.throws(() => parseAgentConfig({ ...base, sever_address: 'x' }), { message: /sever_address: unknown key/ });
  t.throws(() => parseAgentConfig({ ...base, node_attestor: { method: 'nope' } }), { message: /node_attestor.method: unknown node attestor "nope"/ });
  t.throws(() => parseAgentConfig({ ...base, trust_bundle_path: undefined }), { message: /trust_bundle_path or ca_fingerprint/ });
});

test('config: flags override the file, and a trust flag replaces the other trust option', (t) => {
  const fp = 'ab'.repeat(32);
  const c = parseAgentConfig(applyOverrides(base, { caFingerprint: `sha256:${fp}`, joinToken: 'zzzzzzzz9', socketPath: '/s.sock' }));
  t.is(c.caFingerprint, fp);
  t.is(c.trustBundlePath, undefined);
  t.is(c.nodeAttestor.method, 'join_token');
  t.is((c.nodeAttestor.config as { token?: string }).token, 'zzzzzzzz9');
  t.is(c.socketPath, '/s.sock');
});

test('fingerprints are accepted as sha256:hex, plain hex or colon-separated, and anything else is refused', (t) => {
  const hex = 'AB'.repeat(32);
  t.is(parseFingerprint(`sha256:${hex}`), hex.toLowerCase());
  t.is(parseFingerprint(hex.match(/../g)!.join(':')), hex.toLowerCase());
  t.throws(() => parseFingerprint('abcd'));
  t.is(fingerprintOf(new Uint8Array([1])).length, 64);
});

test('the data dir is 0700 with 0600 files, and a saved identity loads back', async (t) => {
  const dir = join(tempDir(t), 'data');
  const ca = await makeRootCa();
  const svid = makeSvid(ca, 'spiffe://example.org/tessera/agent/join_token/x');
  const store = new AgentStore(dir);
  store.init();
  store.saveSvid({ key: svid.privateKey, chain: svid.certificates });
  store.saveBundle({ trustDomain: ca.trustDomain, x509Authorities: [ca.certificate], jwtAuthorities: [{ kid: 'k', publicKey: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' })), expiresAt: 9 }], sequence: 3, refreshHint: 300 });
  t.is(statSync(dir).mode & 0o777, 0o700);
  for (const f of ['agent-key.pem', 'agent-svid.pem', 'bundle.json']) t.is(statSync(join(dir, f)).mode & 0o777, 0o600);
  const back = store.load()!;
  t.deepEqual(Buffer.from(back.svid.chain[0]!), Buffer.from(svid.leaf));
  t.is(back.bundle.sequence, 3);
  t.is(back.bundle.jwtAuthorities[0]!.kid, 'k');
  store.clearSvid();
  t.is(store.load(), undefined);
});

test('a bootstrap bundle file must hold CA certificates', async (t) => {
  const dir = tempDir(t);
  const ca = await makeRootCa();
  const ok = loadBundleFile(writePem(dir, 'ca.pem', ca.certificate), ca.trustDomain);
  t.is(ok.x509Authorities.length, 1);
  const leaf = makeSvid(ca, 'spiffe://example.org/w');
  t.throws(() => loadBundleFile(writePem(dir, 'leaf.pem', leaf.leaf), ca.trustDomain), { message: /not a CA/ });
});
