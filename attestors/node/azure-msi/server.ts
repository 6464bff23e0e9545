import { decodeJwt } from 'jose';
import { AttestationError } from '../../../common/errors.ts';
import type { NodeAttestationContext, NodeAttestationResult, NodeAttestorDeps, NodeAttestorServer, ServerAttestorFactory } from '../types.ts';
import { cloudAgentId, cloudSelectors, decodeJsonObject, requireString } from '../cloud/evidence.ts';
import { verifyCloudJwt } from '../cloud/jwt.ts';
import { TenantDiscovery } from './discovery.ts';
import { AZURE_MSI_METHOD, azureMsiServerConfig, type AzureMsiServerConfig } from './config.ts';

const PREFIX = 'ERR_AZURE_MSI';

/**
 * Server half: the token's (unverified) tid only selects which configured tenant's
 * keys and issuer to check against; an unlisted tenant is refused before any fetch.
 * Everything in the ID comes from the verified claims.
 */
export class AzureMsiServer implements NodeAttestorServer {
  readonly method = AZURE_MSI_METHOD;
  private readonly discovery: TenantDiscovery;

  constructor(private readonly config: AzureMsiServerConfig, private readonly deps: NodeAttestorDeps) {
    this.discovery = new TenantDiscovery(config, deps, PREFIX);
  }

  async attest(payload: Uint8Array, ctx: NodeAttestationContext): Promise<NodeAttestationResult> {
    const p = decodeJsonObject(payload, `${PREFIX}_PAYLOAD_MALFORMED`, 'azure_msi: payload');
    const token = requireString(p, 'token', `${PREFIX}_PAYLOAD_MALFORMED`, 'azure_msi: payload');
    let claimedTenant: unknown;
    try { claimedTenant = decodeJwt(token).tid; } catch (e) {
      throw new AttestationError('invalid_argument', `${PREFIX}_TOKEN_MALFORMED`, `azure_msi: token is not a JWT: ${(e as Error).message}`, { cause: e });
    }
    if (typeof claimedTenant !== 'string' || claimedTenant === '') {
      throw new AttestationError('invalid_argument', `${PREFIX}_TOKEN_MALFORMED`, 'azure_msi: token has no tid claim');
    }
    if (!this.config.tenants.includes(claimedTenant)) {
      throw new AttestationError('permission_denied', `${PREFIX}_TENANT_NOT_ALLOWED`, `azure_msi: tenant "${claimedTenant}" is not in tenants`);
    }
    const tenant = await this.discovery.get(claimedTenant, ctx.signal);
    const claims = await verifyCloudJwt(token, {
      codePrefix: PREFIX, audience: this.config.resource, issuer: tenant.issuer,
      leewaySec: this.config.leeway, nowMs: ctx.now(), key: (kid) => tenant.keys.get(kid),
    });
    const tid = claims.tid, sub = claims.sub;
    if (tid !== claimedTenant || typeof sub !== 'string' || sub === '') {
      throw new AttestationError('invalid_argument', `${PREFIX}_TOKEN_MALFORMED`, 'azure_msi: token lacks tid/sub claims');
    }
    const oid = typeof claims.oid === 'string' ? claims.oid : undefined;
    const resource = parseResourceId(claims.xms_mirid);
    const agentId = cloudAgentId(ctx.trustDomain, AZURE_MSI_METHOD, [['tid', tid], ['sub', sub]]);
    const selectors = cloudSelectors(AZURE_MSI_METHOD, [
      ['tenant-id', tid], ['principal-id', oid ?? sub],
      ['subscription-id', resource.subscription], ['resource-group', resource.resourceGroup], ['vm-name', resource.vmName],
    ]);
    this.deps.logger.info('azure_msi attested', { agent_id: agentId.toString() });
    return { agentId, selectors, trustOnFirstUse: true, audit: { tenant_id: tid, principal: sub, iat: claims.iat, exp: claims.exp } };
  }
}

/**
 * xms_mirid, the managed identity's Azure resource ID:
 * /subscriptions/<sub>/resourcegroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>
 * (or .../Microsoft.ManagedIdentity/userAssignedIdentities/<name>, which names no VM).
 */
function parseResourceId(v: unknown): { subscription?: string; resourceGroup?: string; vmName?: string } {
  if (typeof v !== 'string') return {};
  const parts = v.split('/');
  const after = (key: string) => {
    const i = parts.findIndex((x) => x.toLowerCase() === key);
    return i >= 0 && parts[i + 1] ? parts[i + 1] : undefined;
  };
  return { subscription: after('subscriptions'), resourceGroup: after('resourcegroups'), vmName: after('virtualmachines') };
}

export const serverFactory: ServerAttestorFactory<AzureMsiServerConfig> = {
  method: AZURE_MSI_METHOD,
  config: azureMsiServerConfig,
  create: (config, deps) => new AzureMsiServer(config, deps),
};
