import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { FederationAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/FederationAdmin.ts';
import type { FederationRelationship, FederationRelationship__Output } from '../../proto/gen/tessera-api/tessera/v1/FederationRelationship.ts';
import type { Datastore } from '../datastore/types.ts';
import type { FederationRelationshipRecord, NewFederationRelationship } from '../datastore/sql-federation.ts';
import { toWireBundle } from '../entries/wire.ts';
import { federationError } from '../federation/errors.ts';
import type { FederationManager, RelationshipView } from '../federation/manager.ts';
import { parseRelationship, parseTrustDomainField } from '../federation/relationship.ts';
import { fromWire } from './bundle-admin.ts';
import { unary } from './unary.ts';

/**
 * FederationAdmin on the admin socket (tessera-server federation ..., docs/federation.md):
 * relationships with other trust domains. Input is checked where it enters
 * (relationship.ts: InvalidArgument naming the field); relationships from the config
 * file are read-only here. A bootstrap bundle given with create/update is stored for
 * the relationship's trust domain before the relationship exists, so its first fetch
 * can authenticate the endpoint. Every change is logged and audited.
 */
export interface FederationAdminDeps {
  trustDomain: TrustDomain;
  manager: FederationManager;
  store: Pick<Datastore, 'getBundle' | 'putBundle' | 'deleteBundle' | 'appendAudit'>;
  clock: Clock;
  logger: Logger;
}

export function federationAdminHandlers(d: FederationAdminDeps): FederationAdminHandlers {
  const log = d.logger.child({ component: 'federation-admin' });
  const audit = async (event: string, trustDomain: string, data: Record<string, unknown> = {}) => {
    await d.store.appendAudit({ time: Math.floor(d.clock.now() / 1000), event, subject: trustDomain, data });
  };
  const input = (r: FederationRelationship__Output): NewFederationRelationship => parseRelationship({
    trust_domain: r.trust_domain, bundle_endpoint_url: r.bundle_endpoint_url,
    bundle_endpoint_profile: r.bundle_endpoint_profile, endpoint_spiffe_id: r.endpoint_spiffe_id,
  }, d.trustDomain, 'api');
  /** Stores the bootstrap bundle given with create/update (for the relationship's own trust domain). */
  const storeBundle = async (rel: NewFederationRelationship, r: FederationRelationship__Output): Promise<boolean> => {
    const b = r.trust_domain_bundle;
    if (!b || (b.x509_authorities.length === 0 && b.jwt_authorities.length === 0)) return false;
    if (b.trust_domain && b.trust_domain.toLowerCase() !== rel.trustDomain.name) {
      throw federationError('ERR_FEDERATION_INVALID', `trust_domain_bundle.trust_domain: "${b.trust_domain}" is not the relationship's trust domain "${rel.trustDomain.name}"`);
    }
    await d.store.putBundle(fromWire(rel.trustDomain, b));
    return true;
  };
  const wire = async (v: RelationshipView): Promise<FederationRelationship> => toWireRelationship(v, await d.store.getBundle(v.relationship.trustDomain.name));

  return {
    CreateFederationRelationship: unary(log, 'CreateFederationRelationship', async (call) => {
      const rel = input(call.request);
      // Checked before the bundle is written: a refused create must not replace a stored bundle.
      if (await d.manager.exists(rel.trustDomain.name)) {
        throw federationError('ERR_FEDERATION_EXISTS', `a federation relationship with trust domain "${rel.trustDomain.name}" already exists (use federation update)`);
      }
      const bundleSet = await storeBundle(rel, call.request);
      const created = await d.manager.create(rel);
      await audit('federation.created', created.trustDomain.name, { ...auditData(created), bootstrap_bundle: bundleSet });
      return wire({ relationship: created });
    }),
    UpdateFederationRelationship: unary(log, 'UpdateFederationRelationship', async (call) => {
      const rel = input(call.request);
      const updated = await d.manager.update(rel);
      const bundleSet = await storeBundle(rel, call.request);
      await audit('federation.updated', updated.trustDomain.name, { ...auditData(updated), bundle_set: bundleSet });
      return wire({ relationship: updated });
    }),
    DeleteFederationRelationship: unary(log, 'DeleteFederationRelationship', async (call) => {
      const td = parseTrustDomainField(call.request.trust_domain, d.trustDomain);
      await d.manager.delete(td.name);
      const bundleDeleted = call.request.keep_bundle ? false : await d.store.deleteBundle(td.name);
      await audit('federation.deleted', td.name, { bundle_deleted: bundleDeleted });
      return { trust_domain: td.name, bundle_deleted: bundleDeleted };
    }),
    GetFederationRelationship: unary(log, 'GetFederationRelationship', async (call) => {
      const td = parseTrustDomainField(call.request.trust_domain, d.trustDomain);
      return wire(await d.manager.get(td.name));
    }),
    ListFederationRelationships: unary(log, 'ListFederationRelationships', async () => {
      const views = await d.manager.list();
      return { relationships: await Promise.all(views.map(wire)) };
    }),
    RefreshFederationRelationship: unary(log, 'RefreshFederationRelationship', async (call) => {
      const td = parseTrustDomainField(call.request.trust_domain, d.trustDomain);
      return wire(await d.manager.refresh(td.name));
    }),
  };
}

function auditData(r: FederationRelationshipRecord): Record<string, unknown> {
  return { bundle_endpoint_url: r.bundleEndpointUrl, profile: r.profile, endpoint_spiffe_id: r.endpointSpiffeId?.toString() ?? '' };
}

const sec = (ms: number) => Math.floor(ms / 1000);

export function toWireRelationship(v: RelationshipView, bundle: Parameters<typeof toWireBundle>[0] | undefined): FederationRelationship {
  const r = v.relationship;
  const s = v.status;
  return {
    trust_domain: r.trustDomain.name, bundle_endpoint_url: r.bundleEndpointUrl, bundle_endpoint_profile: r.profile,
    endpoint_spiffe_id: r.endpointSpiffeId?.toString() ?? '', source: r.source, created_at: r.createdAt, updated_at: r.updatedAt,
    trust_domain_bundle: bundle ? toWireBundle(bundle) : null,
    status: s ? {
      last_attempt_at: sec(s.lastAttemptAt), last_success_at: sec(s.lastSuccessAt), next_refresh_at: sec(s.nextRefreshAt),
      last_error_code: s.lastError?.code ?? '', last_error: s.lastError?.message ?? '',
      bundle_sequence: s.bundleSequence, refresh_hint: s.refreshHintSeconds, consecutive_failures: s.consecutiveFailures,
    } : { bundle_sequence: r.bundleSequence },
  };
}
