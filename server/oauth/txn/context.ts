import { canonicalJson as canonical } from '../../../spiffe/txn/canonical.ts';
import { OAuthError } from '../errors.ts';
import { clip } from '../http.ts';

/**
 * The draft's request parameters for context: `request_context` (a JSON object, becomes
 * `rctx`: where the transaction came from, e.g. req_ip) and `request_details` (a JSON
 * object, becomes `tctx`: the parameters that stay fixed down the call chain). Bounded
 * in size and depth; a member may not reuse a claim name of the token itself, so no
 * downstream reader can mistake `tctx.sub` for the token's `sub`.
 *
 * Replacement (draft "Txn-Token as a subject_token"): context only grows. Members the
 * replaced token already carries must come back unchanged or not at all.
 */
export type JsonObject = Record<string, unknown>;

const MAX_CHARS = 8192;
const MAX_DEPTH = 8;
/** The token's own claims: never a member name of tctx or rctx. */
const RESERVED = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'txn', 'scope', 'req_wl', 'act', 'tctx', 'rctx', 'grant_id', 'chain', 'subject'];

export function parseContextParam(raw: string | undefined, param: 'request_context' | 'request_details'): JsonObject | undefined {
  if (raw === undefined) return undefined;
  if (raw.length > MAX_CHARS) throw new OAuthError('invalid_request', `${param} is ${raw.length} characters; at most ${MAX_CHARS}`);
  let v: unknown;
  try { v = JSON.parse(raw); } catch (e) {
    throw new OAuthError('invalid_request', `${param} is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OAuthError('invalid_request', `${param} must be a JSON object`);
  if (depth(v) > MAX_DEPTH) throw new OAuthError('invalid_request', `${param} nests deeper than ${MAX_DEPTH} levels`);
  return v as JsonObject;
}

/** Refuses members named like the token's claims; `replaced` makes the message say what a replacement keeps. */
export function checkMemberNames(o: JsonObject | undefined, param: string, replaced?: { sub: string; txn: string }): void {
  for (const k of Object.keys(o ?? {})) {
    if (!RESERVED.includes(k)) continue;
    const keeps = replaced && (k === 'sub' || k === 'txn')
      ? `: a replacement keeps the ${k} of the transaction token it replaces (${clip(replaced[k], 120)})`
      : `: it is a claim of the transaction token itself (reserved: ${RESERVED.join(' ')})`;
    throw new OAuthError('invalid_request', `${param} may not carry member ${k}${keeps}`);
  }
}

/**
 * `base` plus the members of `added` it lacks; a member present in both must be equal
 * (canonical JSON), else invalid_request naming it: a replacement never changes context.
 */
export function addOnly(base: JsonObject | undefined, added: JsonObject | undefined, param: string, claim: 'tctx' | 'rctx'): JsonObject | undefined {
  if (!added) return base;
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(added)) {
    if (base && Object.hasOwn(base, k)) {
      if (canonical(base[k]) !== canonical(v)) {
        throw new OAuthError('invalid_request', `${param}.${clip(k, 64)} would change ${claim}.${clip(k, 64)} from ${clip(canonical(base[k]), 120)} `
          + `to ${clip(canonical(v), 120)}: a replacement may add to ${claim}, never change it`);
      }
      continue;
    }
    out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

function depth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let d = 0;
  for (const x of Object.values(v)) d = Math.max(d, depth(x));
  return d + 1;
}
