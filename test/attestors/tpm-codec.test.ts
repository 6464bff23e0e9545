import test from 'ava';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../common/errors.ts';
import { agentConfig, serverConfig } from '../../attestors/node/tpm/config.ts';
import { ALG } from '../../attestors/node/tpm/constants.ts';
import { kdfa } from '../../attestors/node/tpm/kdf.ts';
import { decodePcrSelection, encodePcrSelection, formatPcrSelection, parsePcrSelectionSpec } from '../../attestors/node/tpm/pcr-selection.ts';
import { enforcePcrPolicy } from '../../attestors/node/tpm/pcr-policy.ts';
import { decodeResponse, encodePayload, decodePayload } from '../../attestors/node/tpm/protocol.ts';
import { parsePublicArea } from '../../attestors/node/tpm/public-area.ts';
import { AK_ATTRIBUTES, EK_RSA_TEMPLATE, akRsaTemplate } from '../../attestors/node/tpm/templates.ts';

test('parses PCR selection specs and round-trips TPML_PCR_SELECTION', (t) => {
  const sel = parsePcrSelectionSpec('sha1:7,0+sha256:0-3,10');
  t.deepEqual(sel, [{ hashAlg: ALG.SHA1, pcrs: [0, 7] }, { hashAlg: ALG.SHA256, pcrs: [0, 1, 2, 3, 10] }]);
  t.is(formatPcrSelection(sel), 'sha1:0,7+sha256:0,1,2,3,10');
  t.deepEqual(encodePcrSelection(sel).toString('hex'), '00000002' + '0004' + '03' + '810000' + '000b' + '03' + '0f0400');
  t.deepEqual(decodePcrSelection(encodePcrSelection(sel)), sel);
  t.throws(() => parsePcrSelectionSpec('sha256:0-24'), { message: /within 0-23/ });
  t.throws(() => parsePcrSelectionSpec('md5:0'), { message: /unknown PCR bank "md5"/ });
});

test('agent config defaults: tpmrm0, sha256 PCRs 0-7, RSA EK certificate index and persistent EK', (t) => {
  const c = agentConfig.parse({}, 'node_attestor.tpm');
  t.is(c.tcti, 'device:/dev/tpmrm0');
  t.deepEqual(c.pcrs, [{ hashAlg: ALG.SHA256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }]);
  t.is(c.ek_cert_nv_index, 0x01c00002);
  t.is(c.ek_handle, 0x81010001);
  t.throws(() => agentConfig.parse({ pcrs: 'sha256:x' }, 'node_attestor.tpm'), { instanceOf: ConfigError, message: /node_attestor\.tpm\.pcrs: / });
  t.throws(() => agentConfig.parse({ tpm: 1 }, 'node_attestor.tpm'), { instanceOf: ConfigError, message: /node_attestor\.tpm\.tpm: unknown key/ });
});

test('server config validates EK hashes and PCR policy keys, naming the key', (t) => {
  t.throws(() => serverConfig.parse({ ek_hashes: ['abc'] }, 'node_attestors.tpm'), { instanceOf: ConfigError, message: /node_attestors\.tpm\.ek_hashes\[0\]: / });
  t.throws(() => serverConfig.parse({ pcr_policy: { required: { 24: ['00'.repeat(32)] } } }, 'node_attestors.tpm'),
    { instanceOf: ConfigError, message: /node_attestors\.tpm\.pcr_policy\.required\.24: PCR index 24/ });
  t.throws(() => serverConfig.parse({ pcr_policy: { required: { 'sha1:0': ['00'.repeat(32)] } } }, 'node_attestors.tpm'),
    { instanceOf: ConfigError, message: /required\.sha1:0: .* not a 20-byte hex digest/ });
  const c = serverConfig.parse({ ek_hashes: ['AB'.repeat(32)], pcr_policy: { allowed_sets: [{ 7: '0x' + '11'.repeat(32) }] } }, 'node_attestors.tpm');
  t.deepEqual(c.ek_hashes, ['ab'.repeat(32)]);
  t.deepEqual(c.pcr_policy!.allowedSets, [[{ pcr: { hashAlg: ALG.SHA256, index: 7 }, value: '11'.repeat(32) }]]);
});

test('server config loads EK CA certificates once at start, naming the key of a bad one', (t) => {
  t.throws(() => serverConfig.parse({ ek_ca_certs: ['/nonexistent/roots.pem'] }, 'node_attestors.tpm'),
    { instanceOf: ConfigError, message: /node_attestors\.tpm\.ek_ca_certs\[0\]: cannot read \/nonexistent\/roots\.pem/ });
  t.throws(() => serverConfig.parse({ ek_intermediate_certs: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }, 'node_attestors.tpm'),
    { instanceOf: ConfigError, message: /node_attestors\.tpm\.ek_intermediate_certs\[0\]: certificate #1 does not parse/ });
});

test('PCR policy: required values pass, a missing PCR names it', (t) => {
  const policy = serverConfig.parse({ pcr_policy: { required: { 0: ['00'.repeat(32)] } } }, 'p').pcr_policy!;
  t.notThrows(() => enforcePcrPolicy(policy, [{ hashAlg: ALG.SHA256, index: 0, value: new Uint8Array(32) }]));
  t.throws(() => enforcePcrPolicy(policy, [{ hashAlg: ALG.SHA256, index: 1, value: new Uint8Array(32) }]),
    { message: /PCR sha256:0 is required by the PCR policy but was not quoted/ });
});

test('public areas: templates parse, names are nameAlg || SHA-256(TPMT_PUBLIC)', (t) => {
  const ek = parsePublicArea(EK_RSA_TEMPLATE); // all-zero modulus still parses as a key shape
  t.is(ek.type, 'rsa');
  t.deepEqual(ek.symmetric, { alg: ALG.AES, keyBits: 128, mode: ALG.CFB });
  t.is(ek.name.length, 34);
  t.is(Buffer.from(ek.name.subarray(0, 2)).toString('hex'), '000b');
  const ak = parsePublicArea(akRsaTemplate());
  t.is(ak.attributes, AK_ATTRIBUTES);
  t.deepEqual(ak.scheme, { alg: ALG.RSASSA, hash: ALG.SHA256 });
  t.throws(() => parsePublicArea(Buffer.concat([akRsaTemplate(), Buffer.from([0])])), { message: /trailing/ });
});

test('KDFa yields the requested size, which is itself a KDF input', (t) => {
  // Correctness against a TPM is covered by every ActivateCredential in the swtpm tests.
  const key = Buffer.alloc(32, 7);
  const a = kdfa(ALG.SHA256, key, 'STORAGE', Buffer.from('name'), Buffer.alloc(0), 256);
  const b = kdfa(ALG.SHA256, key, 'STORAGE', Buffer.from('name'), Buffer.alloc(0), 128);
  t.is(a.length, 32);
  t.is(b.length, 16);
  t.notDeepEqual(a.subarray(0, 16), b, 'the requested size is part of the KDF input');
});

test('protocol: payload round trip; malformed responses are invalid_argument with the field', (t) => {
  const p = { ekCert: randomBytes(10), ekPublic: randomBytes(20), akPublic: randomBytes(30) };
  t.deepEqual(decodePayload(encodePayload(p)), { ekCert: new Uint8Array(p.ekCert), ekPublic: new Uint8Array(p.ekPublic), akPublic: new Uint8Array(p.akPublic) });
  const bad = (o: object) => new TextEncoder().encode(JSON.stringify({ v: 1, secret: '', quote: '', signature: '', ...o }));
  t.throws(() => decodeResponse(bad({ pcrs: [{ bank: 'sha256', index: 99, value: '00' }] })), { message: /pcrs\[0\]\.index/ });
  t.throws(() => decodeResponse(bad({ pcrs: [{ bank: 'md5', index: 0, value: '00' }] })), { message: /pcrs\[0\]\.bank/ });
  t.throws(() => decodeResponse(new TextEncoder().encode('{"v":2}')), { message: /version 2/ });
});
