import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import type { BundleEndpointProfile, NewFederationRelationship } from '../datastore/sql-federation.ts';
import { federationError } from './errors.ts';

/**
 * A federation relationship's parameters, checked once where they enter (config file,
 * admin API): SPIFFE Federation 5.1 and 5.2 (https URL without userinfo; the profile
 * stated, never inferred; https_spiffe names the endpoint's SPIFFE ID; the trust domain
 * stated, never inferred from the URL) and not our own trust domain.
 */
export interface RelationshipInput {
  trust_domain: string;
  bundle_endpoint_url: string;
  bundle_endpoint_profile: string;
  endpoint_spiffe_id?: string;
}

export const PROFILES: readonly BundleEndpointProfile[] = ['https_web', 'https_spiffe'];

const bad = (field: string, msg: string, cause?: unknown) => federationError('ERR_FEDERATION_INVALID', `${field}: ${msg}`, cause);

export function parseTrustDomainField(value: string, own: TrustDomain, field = 'trust_domain'): TrustDomain {
  let td: TrustDomain;
  try { td = TrustDomain.parse(value); } catch (e) { throw bad(field, `"${value.slice(0, 256)}" is not a trust domain name: ${(e as Error).message}`, e); }
  if (td.equals(own)) throw bad(field, `"${td.name}" is this server's own trust domain: federation is with other trust domains`);
  return td;
}

/** SPIFFE Federation 5.2.1.1 / 5.2.2.1: scheme https, no userinfo. */
export function checkEndpointUrl(value: string, field = 'bundle_endpoint_url'): URL {
  let u: URL;
  try { u = new URL(value); } catch (e) { throw bad(field, `"${value.slice(0, 256)}" is not a URL`, e); }
  if (u.protocol !== 'https:') throw bad(field, `"${value.slice(0, 256)}" must be an https URL`);
  if (u.username || u.password) throw bad(field, 'must not contain userinfo (user:password@)');
  if (u.hash) throw bad(field, 'must not contain a fragment');
  return u;
}

export function parseRelationship(input: RelationshipInput, own: TrustDomain, source: 'config' | 'api'): NewFederationRelationship {
  const trustDomain = parseTrustDomainField(input.trust_domain, own);
  const url = checkEndpointUrl(input.bundle_endpoint_url);
  const profile = input.bundle_endpoint_profile as BundleEndpointProfile;
  if (!PROFILES.includes(profile)) {
    throw bad('bundle_endpoint_profile', `"${String(input.bundle_endpoint_profile).slice(0, 64)}" must be https_web or https_spiffe (it cannot be inferred from the URL)`);
  }
  const rawId = input.endpoint_spiffe_id ?? '';
  if (profile === 'https_web') {
    if (rawId) throw bad('endpoint_spiffe_id', 'is only for the https_spiffe profile (https_web endpoints are authenticated by WebPKI)');
    return { trustDomain, bundleEndpointUrl: url.href, profile, source };
  }
  if (!rawId) throw bad('endpoint_spiffe_id', 'is required with the https_spiffe profile: the SPIFFE ID the bundle endpoint presents');
  let endpointSpiffeId: SpiffeId;
  try { endpointSpiffeId = SpiffeId.parse(rawId); } catch (e) { throw bad('endpoint_spiffe_id', `"${rawId.slice(0, 256)}" is not a SPIFFE ID: ${(e as Error).message}`, e); }
  return { trustDomain, bundleEndpointUrl: url.href, profile, endpointSpiffeId, source };
}

/** Whether two relationships have the same endpoint parameters (source aside). */
export function sameParameters(a: NewFederationRelationship, b: NewFederationRelationship): boolean {
  return a.trustDomain.equals(b.trustDomain) && a.bundleEndpointUrl === b.bundleEndpointUrl && a.profile === b.profile
    && (a.endpointSpiffeId?.toString() ?? '') === (b.endpointSpiffeId?.toString() ?? '');
}
