import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import type { AttestedWorkload } from '../workload-api/provider.ts';
import type { SyncedEntry } from '../sync/entry-cache.ts';

/** One cached X.509-SVID of the SVID cache: an entry's shared SVID or one workload instance's own. */
export interface X509Record {
  key: string;
  entryId: string;
  instanceId: string;
  revision: number;
  spiffeId: string;
  hint: string;
  claims: AgentClaims;
  certChain: Uint8Array[];
  privateKey: Uint8Array;
  /** Hex authority key ID of the leaf: the authority that signed it (taint checks). */
  issuer: string;
  notBefore: number;
  notAfter: number;
  rotateAt: number;
  lastUsed: number;
  pid: number | undefined;
  /** The server refused to renew it (rotateAt is then its retry). */
  refused: boolean;
}

/** A record with no SVID yet: due at once, never served (notAfter 0). */
export function placeholder(key: string, e: SyncedEntry, instanceId: string, pid: number | undefined): X509Record {
  return {
    key, entryId: e.id, instanceId, revision: e.revision, spiffeId: e.spiffeId, hint: e.hint, claims: e.claims,
    certChain: [], privateKey: new Uint8Array(0), issuer: '', notBefore: 0, notAfter: 0, rotateAt: 0, lastUsed: 0, pid, refused: false,
  };
}

/** The record of an entry's SVID for a caller: the entry's shared one, or the caller instance's own. */
export function recordKey(e: SyncedEntry, w: AttestedWorkload): string {
  return e.perInstance ? `${e.id}|${w.instanceId}` : e.id;
}
