import { SpiffeIdError } from './errors.ts';

/**
 * SPIFFE IDs and trust domains as values that cannot be invalid once made: the only
 * ways in are `parse`/`make`, which enforce the SPIFFE-ID standard. Everything
 * downstream trusts them and never re-validates strings.
 */

const MAX_ID_BYTES = 2048;
const MAX_TD_BYTES = 255;
const TD_CHARS_ANY_CASE = /^[a-zA-Z0-9._-]+$/;
const SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;
const SCHEME = 'spiffe://';

export class TrustDomain {
  /** Normalised (lowercase) name, e.g. "example.org". */
  readonly name: string;
  private constructor(name: string) { this.name = name; }

  /** Accepts "example.org" or "spiffe://example.org". */
  static parse(input: string): TrustDomain {
    let name = input;
    if (name.toLowerCase().startsWith(SCHEME)) {
      name = name.slice(SCHEME.length);
      if (name.includes('/')) {
        throw new SpiffeIdError('ERR_TRUST_DOMAIN_INVALID', `trust domain "${input}" must not have a path`);
      }
    }
    return new TrustDomain(validateTrustDomain(name, input));
  }

  /** `spiffe://<td>`: the trust domain's own ID string, as used in bundle maps. */
  get idString(): string { return SCHEME + this.name; }
  toString(): string { return this.name; }
  equals(other: TrustDomain): boolean { return this.name === other.name; }
  /** A SPIFFE ID in this trust domain from path segments (each validated). */
  id(...segments: string[]): SpiffeId { return SpiffeId.fromSegments(this, segments); }
}

function validateTrustDomain(raw: string, input: string): string {
  if (raw.length === 0) throw new SpiffeIdError('ERR_TRUST_DOMAIN_INVALID', `trust domain is empty in "${input}"`);
  if (raw.includes('%')) throw new SpiffeIdError('ERR_TRUST_DOMAIN_INVALID', `trust domain "${raw}" must not be percent-encoded`);
  if (raw.includes('@')) throw new SpiffeIdError('ERR_TRUST_DOMAIN_INVALID', `trust domain "${raw}" must not contain userinfo`);
  if (raw.includes(':')) throw new SpiffeIdError('ERR_TRUST_DOMAIN_INVALID', `trust domain "${raw}" must not contain a port`);
  // SPIFFE-ID 2.4: the trust domain is case-insensitive, so it is stored lowercase (2.1).
  // 2.1 also says dotted quads are valid names, processed like any other: no IP special case.
  // Checked before lowercasing: some non-ASCII letters (U+212A KELVIN SIGN) lowercase to ASCII.
  if (!TD_CHARS_ANY_CASE.test(raw)) {
    throw new SpiffeIdError('ERR_TRUST_DOMAIN_INVALID',
      `trust domain "${raw}" has characters outside [a-z0-9._-]`);
  }
  const name = raw.toLowerCase();
  if (Buffer.byteLength(name) > MAX_TD_BYTES) {
    throw new SpiffeIdError('ERR_TRUST_DOMAIN_INVALID', `trust domain exceeds ${MAX_TD_BYTES} bytes`);
  }
  return name;
}

function validateSegment(seg: string, input: string): void {
  if (seg.length === 0) throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `"${input}": path has an empty segment`);
  if (seg === '.' || seg === '..') throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `"${input}": path segment "${seg}" is not allowed`);
  if (!SEGMENT_CHARS.test(seg)) {
    throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `"${input}": path segment "${seg}" has characters outside [a-zA-Z0-9._-]`);
  }
}

export class SpiffeId {
  readonly trustDomain: TrustDomain;
  /** "" for a trust domain ID, else "/seg/seg". */
  readonly path: string;
  private readonly str: string;

  private constructor(td: TrustDomain, path: string) {
    this.trustDomain = td;
    this.path = path;
    this.str = SCHEME + td.name + path;
  }

  static parse(input: string): SpiffeId {
    if (typeof input !== 'string' || input.length === 0) throw new SpiffeIdError('ERR_SPIFFEID_INVALID', 'SPIFFE ID is empty');
    if (Buffer.byteLength(input) > MAX_ID_BYTES) throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `SPIFFE ID exceeds ${MAX_ID_BYTES} bytes`);
    if (input.slice(0, SCHEME.length).toLowerCase() !== SCHEME) {
      throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `"${input}": scheme must be spiffe://`);
    }
    if (input.includes('?')) throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `"${input}": query is not allowed`);
    if (input.includes('#')) throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `"${input}": fragment is not allowed`);
    const rest = input.slice(SCHEME.length);
    const slash = rest.indexOf('/');
    const tdRaw = slash === -1 ? rest : rest.slice(0, slash);
    const td = TrustDomain.parse(tdRaw);
    if (slash === -1) return new SpiffeId(td, '');
    const path = rest.slice(slash);
    if (path === '/' || path.endsWith('/')) throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `"${input}": path must not end with "/"`);
    for (const seg of path.slice(1).split('/')) validateSegment(seg, input);
    return new SpiffeId(td, path);
  }

  static fromSegments(td: TrustDomain, segments: string[]): SpiffeId {
    const path = segments.map((s) => '/' + s).join('');
    for (const seg of segments) validateSegment(seg, td.idString + path);
    const id = new SpiffeId(td, path);
    if (Buffer.byteLength(id.str) > MAX_ID_BYTES) throw new SpiffeIdError('ERR_SPIFFEID_INVALID', `SPIFFE ID exceeds ${MAX_ID_BYTES} bytes`);
    return id;
  }

  /** True for `spiffe://td` with no path (a trust domain / CA ID, never a workload). */
  get isTrustDomainId(): boolean { return this.path === ''; }
  memberOf(td: TrustDomain): boolean { return this.trustDomain.equals(td); }
  equals(other: SpiffeId): boolean { return this.str === other.str; }
  toString(): string { return this.str; }
  toJSON(): string { return this.str; }
}

/** True when `input` parses as a SPIFFE ID; for callers that only branch. */
export function isSpiffeId(input: string): boolean {
  try { SpiffeId.parse(input); return true; } catch { return false; }
}

/** `spiffe://<td>/tessera/agent/<method>/<...id>`: the node agent ID form. */
export function agentId(td: TrustDomain, method: string, ...idParts: string[]): SpiffeId {
  return td.id('tessera', 'agent', method, ...idParts);
}

/** `spiffe://<td>/tessera/server`: the server's own SVID ID, parent of node-alias entries. */
export function serverId(td: TrustDomain): SpiffeId {
  return td.id('tessera', 'server');
}
