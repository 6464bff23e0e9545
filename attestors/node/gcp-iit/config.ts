import { t } from '../../../common/config.ts';
import { requiredList, retryFields, signingKeyFields, urlField } from '../cloud/config-fields.ts';

/** Audience both halves use unless configured: the token is minted for Tessera only. */
export const DEFAULT_GCP_AUDIENCE = 'tessera-gcp-node-attestor';

/** `node_attestors.gcp_iit` in the server config. */
export const gcpIitServerConfig = t.object({
  /** Google's signing keys: a JWKS (v3) or the v1 PEM-certificate map. */
  jwks_url: urlField('https://www.googleapis.com/oauth2/v3/certs'),
  /** Required `aud` of the identity token. */
  audience: t.string({ default: DEFAULT_GCP_AUDIENCE, nonEmpty: true }),
  /** GCP project IDs allowed to attest (required: a token from any project must never pass). */
  projects: requiredList('project ID'),
  /** Reject tokens issued longer ago than this (Google mints them for 1h). */
  max_token_age: t.duration({ default: 3600, min: 1 }),
  ...signingKeyFields,
});
export type GcpIitServerConfig = ReturnType<typeof gcpIitServerConfig.parse>;

/** `node_attestor` section for gcp_iit in the agent config. */
export const gcpIitAgentConfig = t.object({
  metadata_url: urlField('http://metadata.google.internal'),
  audience: t.string({ default: DEFAULT_GCP_AUDIENCE, nonEmpty: true }),
  service_account: t.string({ default: 'default', pattern: /^[a-zA-Z0-9@._-]+$/ }),
  ...retryFields,
});
export type GcpIitAgentConfig = ReturnType<typeof gcpIitAgentConfig.parse>;

export const GCP_IIT_METHOD = 'gcp_iit';
export const GOOGLE_ISSUER = 'https://accounts.google.com';
