import { alreadyExists, notFound } from '../../common/errors.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import type { LogChange } from './group-commit.ts';
import type { Row } from './rows.ts';
import type { SqlConn } from './sql-driver.ts';

/**
 * SQL for SPIFFE federation relationships (docs/federation.md): which foreign trust
 * domains this trust domain fetches bundles from, where, and how the endpoint is
 * authenticated. They live in the store, not in one server's memory, so every server
 * sharing it runs the same relationships; a change is a 'federation' change event
 * (id = the foreign trust domain) that the others follow. The fetched bundles
 * themselves are ordinary rows of the bundles table.
 */
export type BundleEndpointProfile = 'https_web' | 'https_spiffe';

export interface NewFederationRelationship {
  trustDomain: TrustDomain;
  /** https URL of the foreign bundle endpoint. */
  bundleEndpointUrl: string;
  profile: BundleEndpointProfile;
  /** https_spiffe: the SPIFFE ID the endpoint must present. */
  endpointSpiffeId?: SpiffeId;
  /** 'config': from the server config file (refused by the admin API); 'api': the admin API. */
  source: 'config' | 'api';
}

export interface FederationRelationshipRecord extends NewFederationRelationship {
  /** spiffe_sequence of the last bundle accepted from the endpoint (0: none yet, or not numbered). */
  bundleSequence: number;
  createdAt: number;
  updatedAt: number;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));

function rowToRelationship(r: Row): FederationRelationshipRecord {
  const id = str(r.endpoint_spiffe_id);
  return {
    trustDomain: TrustDomain.parse(str(r.trust_domain)), bundleEndpointUrl: str(r.bundle_endpoint_url),
    profile: str(r.profile) === 'https_spiffe' ? 'https_spiffe' : 'https_web',
    ...(id ? { endpointSpiffeId: SpiffeId.parse(id) } : {}),
    source: str(r.source) === 'config' ? 'config' : 'api',
    bundleSequence: num(r.bundle_sequence), createdAt: num(r.created_at), updatedAt: num(r.updated_at),
  };
}

export async function insertRelationship(c: SqlConn, log: LogChange, r: NewFederationRelationship, now: number): Promise<FederationRelationshipRecord> {
  const n = await c.run(`INSERT INTO federation_relationships
    (trust_domain, bundle_endpoint_url, profile, endpoint_spiffe_id, source, bundle_sequence, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (trust_domain) DO NOTHING`,
  [r.trustDomain.name, r.bundleEndpointUrl, r.profile, r.endpointSpiffeId?.toString() ?? '', r.source, now, now]);
  if (n !== 1) throw alreadyExists('ERR_FEDERATION_EXISTS', `a federation relationship with trust domain "${r.trustDomain.name}" already exists (use federation update)`);
  await log('federation', r.trustDomain.name);
  return { ...r, bundleSequence: 0, createdAt: now, updatedAt: now };
}

/**
 * Replaces the endpoint parameters. A new endpoint URL or profile starts the sequence
 * over: another endpoint numbers its bundles on its own.
 */
export async function updateRelationship(c: SqlConn, log: LogChange, r: NewFederationRelationship, now: number): Promise<FederationRelationshipRecord> {
  const cur = await selectRelationship(c, r.trustDomain.name);
  if (!cur) throw notFound('ERR_FEDERATION_NOT_FOUND', `no federation relationship with trust domain "${r.trustDomain.name}"`);
  const sameEndpoint = cur.bundleEndpointUrl === r.bundleEndpointUrl && cur.profile === r.profile;
  const bundleSequence = sameEndpoint ? cur.bundleSequence : 0;
  await c.run(`UPDATE federation_relationships SET bundle_endpoint_url = ?, profile = ?, endpoint_spiffe_id = ?, source = ?,
    bundle_sequence = ?, updated_at = ? WHERE trust_domain = ?`,
  [r.bundleEndpointUrl, r.profile, r.endpointSpiffeId?.toString() ?? '', r.source, bundleSequence, now, r.trustDomain.name]);
  await log('federation', r.trustDomain.name);
  return { ...r, bundleSequence, createdAt: cur.createdAt, updatedAt: now };
}

export async function deleteRelationship(c: SqlConn, log: LogChange, trustDomain: string): Promise<boolean> {
  const n = await c.run('DELETE FROM federation_relationships WHERE trust_domain = ?', [trustDomain]);
  if (n > 0) await log('federation', trustDomain);
  return n > 0;
}

export async function selectRelationship(c: SqlConn, trustDomain: string): Promise<FederationRelationshipRecord | undefined> {
  const rows = await c.all('SELECT * FROM federation_relationships WHERE trust_domain = ?', [trustDomain]);
  return rows[0] ? rowToRelationship(rows[0]) : undefined;
}

export async function selectRelationships(c: SqlConn): Promise<FederationRelationshipRecord[]> {
  return (await c.all('SELECT * FROM federation_relationships ORDER BY trust_domain')).map(rowToRelationship);
}

/**
 * Records the sequence of a bundle just accepted, only forwards (the conditional UPDATE
 * keeps two servers fetching at once from moving it back). No change event: the bundle
 * write that goes with it is the event.
 */
export async function raiseBundleSequence(c: SqlConn, trustDomain: string, sequence: number): Promise<void> {
  await c.run('UPDATE federation_relationships SET bundle_sequence = ? WHERE trust_domain = ? AND bundle_sequence < ?', [sequence, trustDomain, sequence]);
}
