import test from 'ava';
import { buildSecrets, useSpiffeValidator, type CallerSecrets } from '../../node-agent/sds/secrets.ts';
import { DEFAULT_SDS_OPTIONS, type SdsOptions } from '../../node-agent/sds/options.ts';
import { parseAgentConfig } from '../../node-agent/config.ts';
import type { WorkloadX509Svid } from '../../node-agent/workload-api/provider.ts';
import { TesseraError } from '../../common/errors.ts';

/** The resource-name rules of the SDS endpoint, on fixed inputs (the e2e tests cover the wire). */
const der = (n: number) => new Uint8Array([0x30, 0x03, 0x02, 0x01, n]);
const svid = (id: string, n: number): WorkloadX509Svid => ({
  spiffeId: id, certChain: [der(n)], privateKey: der(100 + n), bundle: [der(1)], hint: '', expiresAt: 0, claims: {} as WorkloadX509Svid['claims'],
});
const secrets: CallerSecrets = {
  svids: [svid('spiffe://example.org/a', 10), svid('spiffe://example.org/b', 11)],
  trustDomainId: 'spiffe://example.org',
  bundles: new Map([['spiffe://example.org', [der(1)]], ['spiffe://b.test', [der(2)]]]),
};
const names = (rs: { name: string }[]) => rs.map((r) => r.name).sort();

test('custom default names replace SPIRE\'s, and the SPIFFE ID and the default name may both be asked for', (t) => {
  const opts: SdsOptions = { ...DEFAULT_SDS_OPTIONS, defaultSvidName: 'mine', defaultBundleName: 'ca', defaultAllBundlesName: 'every' };
  t.deepEqual(names(buildSecrets(secrets, ['mine', 'spiffe://example.org/a', 'ca', 'every'], opts, true)), ['ca', 'every', 'mine', 'spiffe://example.org/a']);
  const e = t.throws(() => buildSecrets(secrets, ['default', 'ROOTCA'], opts, true), { instanceOf: TesseraError });
  t.is(e?.code, 'ERR_SDS_UNKNOWN_RESOURCE');
  t.regex(e!.message, /\["ROOTCA", "default"\]/);
});

test('the default SVID is the provider\'s first; a second SVID is served only by its SPIFFE ID', (t) => {
  const [d] = buildSecrets(secrets, ['default'], DEFAULT_SDS_OPTIONS, true) as unknown as { tls_certificate: { certificate_chain: { inline_bytes: Buffer } } }[];
  t.true(d!.tls_certificate.certificate_chain.inline_bytes.toString().includes(Buffer.from(der(10)).toString('base64')));
  t.deepEqual(names(buildSecrets(secrets, ['spiffe://example.org/b'], DEFAULT_SDS_OPTIONS, true)), ['spiffe://example.org/b']);
});

test('the SPIFFE validator: the agent option, then node metadata, then Envoy\'s version decide', (t) => {
  const off = { ...DEFAULT_SDS_OPTIONS, disableSpiffeCertValidation: true };
  const meta = (v: object) => ({ metadata: { fields: { disable_spiffe_cert_validation: v } } });
  t.true(useSpiffeValidator(undefined, DEFAULT_SDS_OPTIONS));
  t.false(useSpiffeValidator(undefined, off));
  t.true(useSpiffeValidator(meta({ kind: 'boolValue', boolValue: false }), off), 'node metadata overrides the agent option');
  t.false(useSpiffeValidator(meta({ kind: 'stringValue', stringValue: 'T' }), DEFAULT_SDS_OPTIONS));
  t.false(useSpiffeValidator(meta({ kind: 'stringValue', stringValue: 'maybe' }), off), 'an unparsable value is ignored');
  const version = (major: number, minor: number) => ({ user_agent_build_version: { version: { major_number: major, minor_number: minor } } });
  t.false(useSpiffeValidator(version(1, 17), DEFAULT_SDS_OPTIONS));
  t.true(useSpiffeValidator(version(1, 18), DEFAULT_SDS_OPTIONS));
  t.true(useSpiffeValidator(version(2, 0), DEFAULT_SDS_OPTIONS));
});

test('the agent config\'s sds section defaults to SPIRE\'s names and takes overrides', (t) => {
  const base = { server_address: '127.0.0.1:8081', trust_domain: 'example.org', trust_bundle_path: '/b.pem', node_attestor: { method: 'join_token', join_token: { token: 'x' } } };
  t.deepEqual(parseAgentConfig(base).sds, DEFAULT_SDS_OPTIONS);
  t.deepEqual(parseAgentConfig({ ...base, sds: { default_svid_name: 'svid', disable_spiffe_cert_validation: true } }).sds,
    { ...DEFAULT_SDS_OPTIONS, defaultSvidName: 'svid', disableSpiffeCertValidation: true });
});
