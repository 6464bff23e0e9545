import { createHash } from 'node:crypto';
import { failedPrecondition, invalidArgument } from '../../common/errors.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { certificatesToPem, derToPem } from '../../spiffe/pem.ts';
import type { WorkloadX509Svid } from '../workload-api/provider.ts';
import type { SdsOptions } from './options.ts';
import { SECRET_TYPE_URL, SPIFFE_VALIDATOR_NAME, SPIFFE_VALIDATOR_TYPE_URL, type EnvoyNode, type ProtoValue, type SecretResource } from './proto.ts';

/** What one caller may have right now, as the IdentityProvider reports it. */
export interface CallerSecrets {
  /** Default first (the provider's order). */
  svids: WorkloadX509Svid[];
  /** The agent's own trust domain ID ("spiffe://example.org"). */
  trustDomainId: string;
  /** Trust domain ID -> DER CA certs: the own one plus those the caller federates with. */
  bundles: Map<string, readonly Uint8Array[]>;
}

/**
 * The Secret resources for `names` (empty = everything the caller has, as in SPIRE):
 * SVIDs by SPIFFE ID or the default name, bundles by trust domain ID, ROOTCA, ALL.
 * A name the caller has nothing for is refused with InvalidArgument naming it, like
 * SPIRE ("not authorized for the requested identities"), rather than being left out:
 * Envoy would otherwise wait for it until its initial_fetch_timeout with no hint why.
 */
export function buildSecrets(s: CallerSecrets, names: readonly string[], opts: SdsOptions, spiffeValidator: boolean): SecretResource[] {
  const wanted = new Set(names.filter((n) => n !== ''));
  const all = wanted.size === 0;
  const out: SecretResource[] = [];
  const take = (name: string) => all || wanted.delete(name);
  const validation = spiffeValidator ? spiffeValidationContext : trustedCaValidationContext;

  const own = s.bundles.get(s.trustDomainId);
  if (own) {
    if (take(s.trustDomainId)) out.push(secret(s.trustDomainId, validation([[s.trustDomainId, own]])));
    if (wanted.delete(opts.defaultBundleName)) out.push(secret(opts.defaultBundleName, validation([[s.trustDomainId, own]])));
  }
  if (wanted.delete(opts.defaultAllBundlesName)) {
    // Plain trusted_ca cannot say which CA vouches for which trust domain: mixing them
    // would let one domain's CA issue another's IDs. SPIRE refuses this too.
    if (!spiffeValidator) {
      throw failedPrecondition('ERR_SDS_ALL_BUNDLES_NEED_SPIFFE_VALIDATOR',
        `"${opts.defaultAllBundlesName}" needs the SPIFFE certificate validator (Envoy >= 1.18, disable_spiffe_cert_validation unset)`);
    }
    out.push(secret(opts.defaultAllBundlesName, spiffeValidationContext([...s.bundles].sort(([a], [b]) => a.localeCompare(b)))));
  }
  for (const [td, certs] of [...s.bundles].sort(([a], [b]) => a.localeCompare(b))) {
    if (td !== s.trustDomainId && take(td)) out.push(secret(td, validation([[td, certs]])));
  }
  s.svids.forEach((svid, i) => {
    if (take(svid.spiffeId)) out.push(tlsCertificate(svid.spiffeId, svid));
    if (i === 0 && wanted.delete(opts.defaultSvidName)) out.push(tlsCertificate(opts.defaultSvidName, svid));
  });
  if (wanted.size > 0) {
    const missing = [...wanted].sort().map((n) => JSON.stringify(n.slice(0, 256)));
    throw invalidArgument('ERR_SDS_UNKNOWN_RESOURCE', `workload is not authorized for the requested identities [${missing.join(', ')}]`);
  }
  return out;
}

/**
 * SPIRE's rule: the SPIFFE validator unless the agent's option or the node's metadata
 * key disable_spiffe_cert_validation (bool, or a string Go's ParseBool accepts) says
 * otherwise, and only for Envoy >= 1.18 (or a node that does not say its version).
 */
export function useSpiffeValidator(node: EnvoyNode | null | undefined, opts: SdsOptions): boolean {
  let disabled = opts.disableSpiffeCertValidation;
  const override = parseBool(node?.metadata?.fields?.disable_spiffe_cert_validation);
  if (override !== undefined) disabled = override;
  if (disabled) return false;
  const v = node?.user_agent_build_version?.version;
  if (!v) return true;
  const major = v.major_number ?? 0, minor = v.minor_number ?? 0;
  return major > 1 || (major === 1 && minor > 17);
}

function parseBool(v: ProtoValue | undefined): boolean | undefined {
  // google/protobuf/struct.proto comes from protobufjs's bundled descriptors, whose
  // field names are camelCase whatever keepCase says.
  if (!v) return undefined;
  if (v.kind === 'boolValue') return v.boolValue;
  if (v.kind !== 'stringValue') return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v.stringValue ?? '')) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v.stringValue ?? '')) return false;
  return undefined;
}

/** A digest of resources, for "has anything the caller asked for changed". */
export function digestOfSecrets(resources: readonly SecretResource[]): string {
  return createHash('sha256').update(JSON.stringify(resources, (_k, v: unknown) =>
    (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('base64') : v))).digest('base64');
}

const secret = (name: string, validation_context: Record<string, unknown>): SecretResource => ({ '@type': SECRET_TYPE_URL, name, validation_context });

function tlsCertificate(name: string, svid: WorkloadX509Svid): SecretResource {
  return {
    '@type': SECRET_TYPE_URL,
    name,
    tls_certificate: {
      certificate_chain: { inline_bytes: Buffer.from(certificatesToPem(svid.certChain)) },
      private_key: { inline_bytes: Buffer.from(derToPem(svid.privateKey, 'PRIVATE KEY')) },
    },
  };
}

function trustedCaValidationContext(bundles: [string, readonly Uint8Array[]][]): Record<string, unknown> {
  return { trusted_ca: { inline_bytes: Buffer.from(bundles.map(([, certs]) => certificatesToPem(certs)).join('')) } };
}

/** envoy.tls.cert_validator.spiffe: each trust domain with its own CAs. */
function spiffeValidationContext(bundles: [string, readonly Uint8Array[]][]): Record<string, unknown> {
  return {
    custom_validator_config: {
      name: SPIFFE_VALIDATOR_NAME,
      typed_config: {
        '@type': SPIFFE_VALIDATOR_TYPE_URL,
        trust_domains: bundles.map(([td, certs]) => ({
          name: TrustDomain.parse(td).name,
          trust_bundle: { inline_bytes: Buffer.from(certificatesToPem(certs)) },
        })),
      },
    },
  };
}
