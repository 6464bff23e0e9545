import { createPublicKey, X509Certificate } from 'node:crypto';
import type { Logger } from '../../common/logger.ts';
import { invalidArgument, notFound } from '../../common/errors.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import type { BundleRecord, Datastore } from '../datastore/types.ts';
import { toWireBundle } from '../entries/wire.ts';
import type { BundleAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/BundleAdmin.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import { unary } from './unary.ts';

/**
 * Bundles of other trust domains (tessera-server bundle list|show|set|delete), stored
 * in the datastore's bundle table next to our own and shared with federation. Our own
 * trust domain's bundle is the CA manager's and is refused here.
 */

export interface BundleAdminDeps {
  trustDomain: TrustDomain;
  store: Pick<Datastore, 'getBundle' | 'putBundle' | 'listBundles' | 'deleteBundle'>;
  audit(event: string, subject: string, data?: Record<string, unknown>): Promise<void>;
  logger: Logger;
}

type FederatedHandlers = Pick<BundleAdminHandlers, 'ListFederatedBundles' | 'GetFederatedBundle' | 'SetFederatedBundle' | 'DeleteFederatedBundle'>;

export function federatedBundleHandlers(d: BundleAdminDeps): FederatedHandlers {
  const foreign = (name: string, field = 'trust_domain'): TrustDomain => {
    let td: TrustDomain;
    try { td = TrustDomain.parse(name); } catch (e) { throw invalidArgument('ERR_TRUST_DOMAIN', `${field}: ${(e as Error).message}`, e); }
    if (td.equals(d.trustDomain)) {
      throw invalidArgument('ERR_BUNDLE_OWN_TRUST_DOMAIN', `${field}: "${td.name}" is this server's own trust domain, whose bundle the CA manages (see bundle show)`);
    }
    return td;
  };
  return {
    ListFederatedBundles: unary(d.logger, 'ListFederatedBundles', async () => {
      const all = await d.store.listBundles();
      return { bundles: all.filter((b) => !b.trustDomain.equals(d.trustDomain)).map(toWireBundle) };
    }),
    GetFederatedBundle: unary(d.logger, 'GetFederatedBundle', async (call) => {
      const td = foreign(call.request.trust_domain);
      const b = await d.store.getBundle(td.name);
      if (!b || b.x509Authorities.length + b.jwtAuthorities.length === 0) throw notFound('ERR_BUNDLE_NOT_FOUND', `no bundle for trust domain "${td.name}"`);
      return toWireBundle(b);
    }),
    SetFederatedBundle: unary(d.logger, 'SetFederatedBundle', async (call) => {
      const r = call.request;
      const td = foreign(r.trust_domain);
      const rec = fromWire(td, r);
      const stored = await d.store.putBundle(rec);
      await d.audit('bundle.set', td.name, { x509_authorities: rec.x509Authorities.length, jwt_authorities: rec.jwtAuthorities.length });
      d.logger.info('federated bundle set', { trust_domain: td.name, sequence: stored.sequence });
      return toWireBundle(stored);
    }),
    DeleteFederatedBundle: unary(d.logger, 'DeleteFederatedBundle', async (call) => {
      const td = foreign(call.request.trust_domain);
      if (!(await d.store.deleteBundle(td.name))) throw notFound('ERR_BUNDLE_NOT_FOUND', `no bundle for trust domain "${td.name}"`);
      await d.audit('bundle.deleted', td.name);
      return { trust_domain: td.name };
    }),
  };
}

/** Checks every authority parses (InvalidArgument naming the item). */
export function fromWire(td: TrustDomain, b: Bundle__Output): Omit<BundleRecord, 'sequence'> {
  if (b.x509_authorities.length === 0 && b.jwt_authorities.length === 0) {
    throw invalidArgument('ERR_BUNDLE_EMPTY', 'the bundle has no X.509 and no JWT authorities');
  }
  const x509Authorities = b.x509_authorities.map((der, i) => {
    let c: X509Certificate;
    try { c = new X509Certificate(der); } catch (e) { throw invalidArgument('ERR_BUNDLE_X509', `x509_authorities[${i}]: not a DER certificate: ${(e as Error).message}`, e); }
    if (!c.ca) throw invalidArgument('ERR_BUNDLE_X509', `x509_authorities[${i}]: ${c.subject || 'certificate'} is not a CA certificate`);
    return new Uint8Array(der);
  });
  const kids = new Set<string>();
  const jwtAuthorities = b.jwt_authorities.map((k, i) => {
    if (!k.key_id) throw invalidArgument('ERR_BUNDLE_JWT', `jwt_authorities[${i}].key_id is required`);
    if (kids.has(k.key_id)) throw invalidArgument('ERR_BUNDLE_JWT', `jwt_authorities[${i}].key_id "${k.key_id}" is repeated`);
    kids.add(k.key_id);
    try { createPublicKey({ key: k.public_key, format: 'der', type: 'spki' }); } catch (e) {
      throw invalidArgument('ERR_BUNDLE_JWT', `jwt_authorities[${i}].public_key: not a SubjectPublicKeyInfo: ${(e as Error).message}`, e);
    }
    return { kid: k.key_id, publicKey: new Uint8Array(k.public_key), expiresAt: k.expires_at };
  });
  return { trustDomain: td, x509Authorities, jwtAuthorities, refreshHint: b.refresh_hint || 300 };
}
