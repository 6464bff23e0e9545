import { t, type Field } from '../../../common/config.ts';
import { ConfigError } from '../../../common/errors.ts';
import { requiredList, retryFields, signingKeyFields, urlField } from '../cloud/config-fields.ts';

export const AZURE_MSI_METHOD = 'azure_msi';
/** Resource (token audience) both halves use unless configured; SPIRE's default too. */
export const DEFAULT_AZURE_RESOURCE = 'https://management.azure.com/';

/** A URL with a `{tenant}` placeholder, filled with the token's tenant ID. */
function tenantUrlTemplate(def: string): Field<string> {
  const url = urlField(def);
  return {
    describe: 'url with {tenant}',
    parse: (v, p) => {
      const s = url.parse(v, p);
      if (!s.includes('{tenant}')) throw new ConfigError(`config: ${p}: must contain {tenant}`);
      return s;
    },
  };
}

/** `node_attestors.azure_msi` in the server config. */
export const azureMsiServerConfig = t.object({
  /** OpenID discovery document of a tenant; its jwks_uri gives the signing keys and its issuer the expected iss. */
  discovery_url: tenantUrlTemplate('https://login.microsoftonline.com/{tenant}/.well-known/openid-configuration'),
  /** Tenant IDs allowed to attest (required). */
  tenants: requiredList('tenant ID'),
  /** Required `aud` of the managed identity token. */
  resource: t.string({ default: DEFAULT_AZURE_RESOURCE, nonEmpty: true }),
  ...signingKeyFields,
});
export type AzureMsiServerConfig = ReturnType<typeof azureMsiServerConfig.parse>;

/** `node_attestor` section for azure_msi in the agent config. */
export const azureMsiAgentConfig = t.object({
  metadata_url: urlField('http://169.254.169.254'),
  resource: t.string({ default: DEFAULT_AZURE_RESOURCE, nonEmpty: true }),
  /** Client ID of a user-assigned identity; unset: the system-assigned identity. */
  client_id: t.optional(t.string({ nonEmpty: true })),
  api_version: t.string({ default: '2018-02-01', pattern: /^\d{4}-\d{2}-\d{2}$/ }),
  ...retryFields,
});
export type AzureMsiAgentConfig = ReturnType<typeof azureMsiAgentConfig.parse>;
