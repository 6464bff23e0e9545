import { timingSafeEqual, verify as cryptoVerify, type X509Certificate } from 'node:crypto';
import { AttestationError, ConfigError } from '../../../common/errors.ts';
import type { NodeAttestationContext, NodeAttestationResult, NodeAttestorDeps, NodeAttestorServer, ServerAttestorFactory } from '../types.ts';
import { cloudAgentId, cloudSelectors, decodeBase64, decodeJsonObject, optionalString, requireString } from '../cloud/evidence.ts';
import { parsePkcs7, verifyPkcs7 } from '../cloud/pkcs7.ts';
import { awsIidServerConfig, type AwsIidServerConfig } from './config.ts';
import { parseIdentityDocument, type InstanceIdentityDocument } from './document.ts';
import { AWS_IID_METHOD } from './payload.ts';

const PAYLOAD = 'ERR_AWS_IID_PAYLOAD_MALFORMED';

const denied = (code: string, msg: string) => new AttestationError('permission_denied', code, msg);

/**
 * Server half: the document is trusted only if AWS's key for the document's own
 * region signed exactly these bytes. The region in the (still untrusted) document
 * only picks which configured certificate to try; a region with no configured
 * certificate is rejected rather than tried against every key.
 */
export class AwsIidServer implements NodeAttestorServer {
  readonly method = AWS_IID_METHOD;
  constructor(private readonly config: AwsIidServerConfig, private readonly deps: NodeAttestorDeps) {
    if (Object.keys(config.rsa2048_certificates).length + Object.keys(config.rsa_sha256_certificates).length === 0) {
      throw new ConfigError('config: node_attestors.aws_iid: configure rsa2048_certificates or rsa_sha256_certificates for at least one region');
    }
  }

  async attest(payload: Uint8Array, ctx: NodeAttestationContext): Promise<NodeAttestationResult> {
    const p = decodeJsonObject(payload, PAYLOAD, 'aws_iid: payload');
    const docBytes = decodeBase64(requireString(p, 'document', PAYLOAD, 'aws_iid: payload'), PAYLOAD, 'aws_iid: payload document');
    const rsa2048 = optionalString(p, 'rsa2048');
    const signature = optionalString(p, 'signature');
    if ((rsa2048 === undefined) === (signature === undefined)) {
      throw new AttestationError('invalid_argument', PAYLOAD, 'aws_iid: payload must carry exactly one of "rsa2048" or "signature"');
    }
    const doc = parseIdentityDocument(docBytes);
    const now = ctx.now();
    const audit: Record<string, unknown> = { variant: rsa2048 ? 'rsa2048' : 'signature' };

    if (rsa2048 !== undefined) {
      const cert = this.certificateFor(this.config.rsa2048_certificates, doc.region, 'rsa2048_certificates');
      const p7 = parsePkcs7(decodeBase64(rsa2048, PAYLOAD, 'aws_iid: payload rsa2048'));
      // Detached (no content): the signature must cover the document sent. parsePkcs7
      // never returns empty content (it refuses it), so this is the document or nothing.
      const { signingTime } = verifyPkcs7(p7, cert.publicKey, p7.content ?? docBytes);
      // The signature is only about the signed content; it vouches for the document
      // sent only if they are the same bytes (blocks pairing a stolen signature with
      // an edited document).
      if (p7.content !== undefined && !sameBytes(p7.content, docBytes)) {
        throw denied('ERR_AWS_IID_CONTENT_MISMATCH', 'aws_iid: the PKCS#7 signed content is not the instance identity document that was sent');
      }
      if (signingTime) {
        audit.signing_time = signingTime.toISOString();
        const skew = this.config.clock_skew * 1000;
        if (signingTime.getTime() > now + skew) throw denied('ERR_AWS_IID_NOT_YET_VALID', `aws_iid: PKCS#7 signing time ${signingTime.toISOString()} is in the future`);
        if (signingTime.getTime() < Date.parse(cert.validFrom) - skew || signingTime.getTime() > Date.parse(cert.validTo) + skew) {
          throw denied('ERR_AWS_IID_SIGNATURE_INVALID', `aws_iid: PKCS#7 signing time ${signingTime.toISOString()} is outside the ${doc.region} certificate's validity`);
        }
      }
    } else {
      const cert = this.certificateFor(this.config.rsa_sha256_certificates, doc.region, 'rsa_sha256_certificates');
      const sig = decodeBase64(signature!, PAYLOAD, 'aws_iid: payload signature');
      if (!cryptoVerify('sha256', docBytes, cert.publicKey, sig)) {
        throw denied('ERR_AWS_IID_SIGNATURE_INVALID', `aws_iid: RSA-SHA256 signature does not verify with the ${doc.region} certificate (signed by another key, or the document was altered)`);
      }
    }

    this.checkPolicy(doc, now);
    const agentId = cloudAgentId(ctx.trustDomain, AWS_IID_METHOD, [['accountId', doc.accountId], ['region', doc.region], ['instanceId', doc.instanceId]]);
    const selectors = cloudSelectors(AWS_IID_METHOD, [
      ['account_id', doc.accountId], ['region', doc.region], ['az', doc.availabilityZone],
      ['image:id', doc.imageId], ['instance:id', doc.instanceId], ['instance:type', doc.instanceType],
    ]);
    this.deps.logger.info('aws_iid attested', { agent_id: agentId.toString(), instance: doc.instanceId });
    return {
      agentId, selectors, trustOnFirstUse: true,
      audit: { ...audit, account_id: doc.accountId, region: doc.region, instance_id: doc.instanceId, pending_time: doc.pendingTime.toISOString() },
    };
  }

  private certificateFor(map: Record<string, X509Certificate>, region: string, key: string): X509Certificate {
    const cert = Object.hasOwn(map, region) ? map[region] : undefined;
    if (!cert) {
      const known = Object.keys(map);
      throw denied('ERR_AWS_IID_REGION_UNKNOWN',
        `aws_iid: no AWS certificate is configured for region "${region}" in ${key} (configured: ${known.length ? known.join(', ') : 'none'})`);
    }
    return cert;
  }

  private checkPolicy(doc: InstanceIdentityDocument, now: number): void {
    const allow = this.config.account_allow_list;
    if (allow.length > 0 && !allow.includes(doc.accountId)) {
      throw denied('ERR_AWS_IID_ACCOUNT_NOT_ALLOWED', `aws_iid: account ${doc.accountId} is not in account_allow_list`);
    }
    const pending = doc.pendingTime.getTime();
    if (pending > now + this.config.clock_skew * 1000) {
      throw denied('ERR_AWS_IID_NOT_YET_VALID', `aws_iid: pendingTime ${doc.pendingTime.toISOString()} is in the future`);
    }
    const max = this.config.max_instance_age;
    if (max !== undefined && now - pending > max * 1000) {
      throw denied('ERR_AWS_IID_TOO_OLD', `aws_iid: instance was launched at ${doc.pendingTime.toISOString()}, more than max_instance_age (${max}s) ago`);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export const serverFactory: ServerAttestorFactory<AwsIidServerConfig> = {
  method: AWS_IID_METHOD,
  config: awsIidServerConfig,
  create: (config, deps) => new AwsIidServer(config, deps),
};
