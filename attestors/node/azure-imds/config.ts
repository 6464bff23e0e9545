import { t, type Field } from '../../../common/config.ts';
import { ConfigError } from '../../../common/errors.ts';
import { pemCertificates, retryFields, urlField } from '../cloud/config-fields.ts';

export const AZURE_IMDS_METHOD = 'azure_imds';

/** subscriptionId → tenantId: the attested document names the subscription, not the tenant. */
function subscriptionTenants(): Field<Record<string, string>> {
  const f = t.record(t.string({ pattern: /^[a-zA-Z0-9-]+$/ }));
  return {
    describe: 'map of subscription ID to tenant ID',
    parse: (v, p) => {
      const m = f.parse(v, p);
      if (Object.keys(m).length === 0) throw new ConfigError(`config: ${p}: must map at least one subscription ID to its tenant ID`);
      for (const k of Object.keys(m)) if (!/^[a-zA-Z0-9-]+$/.test(k)) throw new ConfigError(`config: ${p}.${k}: not a subscription ID`);
      return m;
    },
  };
}

/** `node_attestors.azure_imds` in the server config. */
export const azureImdsServerConfig = t.object({
  /** Roots the attested-document signer must chain to (PEM text or file). */
  roots: pemCertificates(),
  /** Intermediate CAs to build the path with (Azure's signer cert is sent without its issuer). */
  intermediates: t.optional(pemCertificates()),
  /** The signer certificate must be for this DNS name or a host under it. */
  signer_name: t.string({ default: 'metadata.azure.com', pattern: /^[a-z0-9.-]+$/ }),
  /** Subscriptions allowed to attest, each with its tenant ID (the first segment of the agent ID). */
  subscription_tenants: subscriptionTenants(),
  /** Clock skew tolerated on the document's timeStamp and certificate validity. */
  leeway: t.duration({ default: 300, max: 3600 }),
});
export type AzureImdsServerConfig = ReturnType<typeof azureImdsServerConfig.parse>;

/** `node_attestor` section for azure_imds in the agent config. */
export const azureImdsAgentConfig = t.object({
  metadata_url: urlField('http://169.254.169.254'),
  api_version: t.string({ default: '2021-02-01', pattern: /^\d{4}-\d{2}-\d{2}$/ }),
  ...retryFields,
});
export type AzureImdsAgentConfig = ReturnType<typeof azureImdsAgentConfig.parse>;
