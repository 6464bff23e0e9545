import { t } from '../../../common/config.ts';
import { pemCertificate, retryFields, urlField } from '../cloud/config-fields.ts';

/** `node_attestors.aws_iid` in the server config. */
export const awsIidServerConfig = t.object({
  /** region → AWS RSA-2048 certificate (PEM or file), verifies the PKCS#7 `rsa2048` signature. */
  rsa2048_certificates: t.record(pemCertificate(), { default: {} }),
  /** region → AWS RSA certificate (PEM or file), verifies the base64 RSA-SHA256 `signature`. */
  rsa_sha256_certificates: t.record(pemCertificate(), { default: {} }),
  /** AWS account IDs allowed to attest; empty allows any account whose document verifies. */
  account_allow_list: t.array(t.string({ pattern: /^\d{12}$/ }), { default: [] }),
  /** Reject instances launched (pendingTime) longer ago than this; unset: no limit. */
  max_instance_age: t.optional(t.duration({ min: 1 })),
  /** Clock skew tolerated on pendingTime and the PKCS#7 signing time. */
  clock_skew: t.duration({ default: 300 }),
});
export type AwsIidServerConfig = ReturnType<typeof awsIidServerConfig.parse>;

/** `node_attestor` section for aws_iid in the agent config. */
export const awsIidAgentConfig = t.object({
  /** Instance metadata service base address. */
  metadata_url: urlField('http://169.254.169.254'),
  /** Which signature to send: the PKCS#7 `rsa2048` (default) or the RSA-SHA256 `signature`. */
  signature: t.enum(['rsa2048', 'signature'] as const, { default: 'rsa2048' }),
  /** IMDSv2 session token lifetime requested with the PUT. */
  token_ttl: t.duration({ default: 300, min: 1, max: 21600 }),
  ...retryFields,
});
export type AwsIidAgentConfig = ReturnType<typeof awsIidAgentConfig.parse>;
