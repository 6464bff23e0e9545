import test from 'ava';
import { execFileSync } from 'node:child_process';
import { AGENT_CLAIMS_OID, LEGACY_AGENT_CLAIMS_OID, TESSERA_OID_ARC } from '../../spiffe/agent-claims.ts';
import { decodeOid, oid } from '../../spiffe/der.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { agentClaimsFromCertificate, encodeAgentClaimsExtension } from '../../spiffe/x509svid/claims-extension.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { makeCustomCertificate, makeRootCa, makeSvid, writePem } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const claims = { agent_model: 'claude-x', agent_provider: 'anthropic', agent_version: '1.2', agent_instance_id: 'inst_abc' };

test('the agent-claims OID is UUID-derived under 2.25 (X.667)', (t) => {
  const uuid = 'c0465fd9-37c6-4532-8890-dd4c49a0cb06';
  t.is(TESSERA_OID_ARC, `2.25.${BigInt('0x' + uuid.replace(/-/g, '')).toString()}`);
  t.is(AGENT_CLAIMS_OID, `${TESSERA_OID_ARC}.1.1`);
});

test('OIDs with arcs beyond 2^53 encode and decode exactly', (t) => {
  const der = oid(AGENT_CLAIMS_OID);
  t.is(decodeOid(der.subarray(2)), AGENT_CLAIMS_OID);
  // The first content byte carries 2.25 combined: 2*40+25 = 105 (0x69).
  t.is(der[2], 0x69);
  t.is(decodeOid(oid('1.2.840.10045.4.3.2').subarray(2)), '1.2.840.10045.4.3.2');
});

test('new SVIDs carry the claims under the new OID only', async (t) => {
  const ca = await makeRootCa();
  const der = makeSvid(ca, 'spiffe://example.org/agent', { claims }).leaf;
  const exts = readCertificate(der).extensions;
  t.truthy(exts.get(AGENT_CLAIMS_OID));
  t.is(exts.get(LEGACY_AGENT_CLAIMS_OID), undefined);
  t.deepEqual(agentClaimsFromCertificate(der), claims);
});

test('a certificate with the legacy OID still decodes (one release)', async (t) => {
  const ca = await makeRootCa();
  const { certificate } = await makeCustomCertificate({
    issuer: ca, uris: ['spiffe://example.org/old'], ca: false, keyUsage: 1, extKeyUsage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    extraExtensions: [{ oid: LEGACY_AGENT_CLAIMS_OID, critical: false, value: encodeAgentClaimsExtension(claims) }],
  });
  t.deepEqual(agentClaimsFromCertificate(certificate), claims);
  t.deepEqual(parseX509Svid([certificate]).claims, claims);
});

test('openssl x509 -text shows the new OID', async (t) => {
  const ca = await makeRootCa();
  const der = makeSvid(ca, 'spiffe://example.org/agent', { claims }).leaf;
  const file = writePem(tempDir(t), 'leaf.pem', der);
  const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
  t.true(text.includes(AGENT_CLAIMS_OID + ':'), text);
  t.false(text.includes('59999'));
});
