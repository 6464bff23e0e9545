import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AttestationError } from '../../../common/errors.ts';
import type { NodeAttestationContext, NodeAttestationResult, NodeAttestorDeps, NodeAttestorServer, ServerAttestorFactory } from '../types.ts';
import { cloudAgentId, cloudSelectors, decodeBase64, decodeJsonObject, requireString } from '../cloud/evidence.ts';
import { embeddedCertificates, parsePkcs7, verifyPkcs7 } from '../cloud/pkcs7.ts';
import { certificateDnsNames, nameUnder, verifyChain } from '../cloud/x509-chain.ts';
import { AZURE_IMDS_METHOD, azureImdsServerConfig, type AzureImdsServerConfig } from './config.ts';
import { parseAttestedDocument } from './document.ts';

const RESPONSE = 'ERR_AZURE_IMDS_RESPONSE_MALFORMED';
const denied = (code: string, msg: string) => new AttestationError('permission_denied', code, msg);

/**
 * Server half, challenge/response: a fresh nonce goes to the agent, which returns
 * the attested document IMDS signed over it. Fresh by construction, so no trust
 * on first use: the same VM may attest again (e.g. after losing its data dir).
 */
export class AzureImdsServer implements NodeAttestorServer {
  readonly method = AZURE_IMDS_METHOD;
  constructor(private readonly config: AzureImdsServerConfig, private readonly deps: NodeAttestorDeps) {}

  async attest(_payload: Uint8Array, ctx: NodeAttestationContext): Promise<NodeAttestationResult> {
    // 32 hex characters: the most IMDS accepts (alphanumeric, up to 32).
    const nonce = randomBytes(16).toString('hex');
    const answer = await ctx.challenge(new TextEncoder().encode(nonce));
    const r = decodeJsonObject(answer, RESPONSE, 'azure_imds: attested data answer');
    const encoding = requireString(r, 'encoding', RESPONSE, 'azure_imds: attested data answer');
    if (encoding !== 'pkcs7') throw new AttestationError('invalid_argument', RESPONSE, `azure_imds: attested data encoding "${encoding}" is not pkcs7`);
    const p7 = parsePkcs7(decodeBase64(requireString(r, 'signature', RESPONSE, 'azure_imds: attested data answer'), RESPONSE, 'azure_imds: attested data signature'));
    if (p7.content === undefined) throw new AttestationError('invalid_argument', RESPONSE, 'azure_imds: attested data PKCS#7 carries no content (detached signature)');

    const now = ctx.now();
    const { signer, others } = embeddedCertificates(p7);
    if (!signer) throw denied('ERR_AZURE_IMDS_SIGNER_MISSING', 'azure_imds: the PKCS#7 does not carry its signer certificate');
    verifyChain(signer, [...others, ...(this.config.intermediates ?? [])], this.config.roots, new Date(now));
    const names = certificateDnsNames(signer);
    if (!names.some((n) => nameUnder(n, this.config.signer_name))) {
      throw denied('ERR_AZURE_IMDS_SIGNER_NAME', `azure_imds: signer certificate is for ${JSON.stringify(names)}, not ${this.config.signer_name}`);
    }
    verifyPkcs7(p7, signer.publicKey, p7.content);

    const doc = parseAttestedDocument(p7.content);
    const a = Buffer.from(doc.nonce), b = Buffer.from(nonce);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw denied('ERR_AZURE_IMDS_NONCE_MISMATCH', `azure_imds: attested document nonce "${doc.nonce.slice(0, 64)}" is not the nonce this server sent`);
    }
    const leeway = this.config.leeway * 1000;
    if (doc.expiresOn.getTime() < now - leeway) throw denied('ERR_AZURE_IMDS_EXPIRED', `azure_imds: attested document expired at ${doc.expiresOn.toISOString()}`);
    if (doc.createdOn.getTime() > now + leeway) throw denied('ERR_AZURE_IMDS_NOT_YET_VALID', `azure_imds: attested document created in the future (${doc.createdOn.toISOString()})`);

    const tenants = this.config.subscription_tenants;
    const tenant = Object.hasOwn(tenants, doc.subscriptionId) ? tenants[doc.subscriptionId] : undefined;
    if (!tenant) throw denied('ERR_AZURE_IMDS_SUBSCRIPTION_NOT_ALLOWED', `azure_imds: subscription ${doc.subscriptionId} is not in subscription_tenants`);

    const agentId = cloudAgentId(ctx.trustDomain, AZURE_IMDS_METHOD, [['tenant', tenant], ['subscriptionId', doc.subscriptionId], ['vmId', doc.vmId]]);
    const selectors = cloudSelectors(AZURE_IMDS_METHOD, [
      ['tenant-id', tenant], ['subscription-id', doc.subscriptionId], ['vm-id', doc.vmId], ['sku', doc.sku],
    ]);
    this.deps.logger.info('azure_imds attested', { agent_id: agentId.toString() });
    return {
      agentId, selectors, trustOnFirstUse: false,
      audit: { subscription_id: doc.subscriptionId, vm_id: doc.vmId, created_on: doc.createdOn.toISOString(), signer: names[0] },
    };
  }
}

export const serverFactory: ServerAttestorFactory<AzureImdsServerConfig> = {
  method: AZURE_IMDS_METHOD,
  config: azureImdsServerConfig,
  create: (config, deps) => new AzureImdsServer(config, deps),
};
