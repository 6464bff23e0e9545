import type { Agent__Output } from '../../proto/gen/tessera-api/tessera/v1/Agent.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { Entry, Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { Selector__Output } from '../../proto/gen/tessera-api/tessera/v1/Selector.ts';
import type { Selector } from '../../spiffe/selector.ts';
import type { AttestedAgent, BundleRecord, EntryUpdate, NewEntry, RegistrationEntry } from '../datastore/types.ts';
import { validateEntryUpdate, validateNewEntry, type EntryValidationContext } from './validate.ts';

/**
 * Domain <-> wire (tessera.v1) conversions for the API adapters. Outbound is total
 * (domain values are valid by construction); inbound goes through validate.ts.
 */

export function toWireSelector(s: Selector): Selector__Output {
  return { type: s.type, value: s.value };
}

export function toWireEntry(e: RegistrationEntry): Entry__Output {
  return {
    id: e.id,
    spiffe_id: e.spiffeId.toString(),
    parent_id: e.parentId.toString(),
    selectors: e.selectors.map(toWireSelector),
    x509_svid_ttl: e.x509SvidTtl,
    jwt_svid_ttl: e.jwtSvidTtl,
    dns_names: [...e.dnsNames],
    hint: e.hint,
    admin: e.admin,
    downstream: e.downstream,
    federates_with: e.federatesWith.map((td) => td.name),
    expires_at: e.expiresAt,
    revision: e.revision,
    agent: e.agent.model || e.agent.provider || e.agent.version
      ? { agent_model: e.agent.model ?? '', agent_provider: e.agent.provider ?? '', agent_version: e.agent.version ?? '' }
      : null,
    created_at: e.createdAt,
  };
}

/** A create request's entry; throws InvalidArgument naming the field. */
export function fromWireEntry(wire: Entry, ctx: EntryValidationContext): NewEntry {
  return validateNewEntry(wire, ctx);
}

/** An update request's entry (id required, revision -> expectRevision); throws InvalidArgument. */
export function fromWireEntryUpdate(wire: Entry, ctx: EntryValidationContext): EntryUpdate {
  return validateEntryUpdate(wire, ctx);
}

export function toWireAgent(a: AttestedAgent): Agent__Output {
  return {
    spiffe_id: a.spiffeId.toString(),
    attestation_type: a.attestationType,
    selectors: a.selectors.map(toWireSelector),
    x509_svid_serial: a.serial,
    x509_svid_expires_at: a.expiresAt,
    banned: a.banned,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
  };
}

export function toWireBundle(b: BundleRecord): Bundle__Output {
  return {
    trust_domain: b.trustDomain.name,
    x509_authorities: b.x509Authorities.map((d) => Buffer.from(d)),
    jwt_authorities: b.jwtAuthorities.map((k) => ({ key_id: k.kid, public_key: Buffer.from(k.publicKey), expires_at: k.expiresAt })),
    sequence: b.sequence,
    refresh_hint: b.refreshHint,
    // Taint is not stored with the bundle: the CA manager adds it (server/ca/local-authority.ts).
    tainted_x509_authority_ids: [],
    tainted_jwt_key_ids: [],
  };
}
