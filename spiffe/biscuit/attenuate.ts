import { DelegationError, invalid } from '../delegation/errors.ts';
import { SpiffeId } from '../id.ts';
import type { BiscuitRootKeySource } from './keys.ts';
import { describeLibError, parseBiscuit } from './token.ts';
import { attenuationCode } from './vocabulary.ts';
import { biscuitLibLoaded, loadBiscuit } from './wasm.ts';

/**
 * Offline attenuation (docs/attenuation.md): appends one block that can only narrow
 * what the token allows — Biscuit gives a block no way to lift another block's checks,
 * and Tessera's verifier reads a block's facts only as intersections and minimums. No
 * call to the server: the holder needs the root keys (fetched once) because the
 * library checks the chain it extends, so a corrupted token fails here, not later.
 */
export interface AttenuateOptions {
  rootKeys: BiscuitRootKeySource;
  /** Keep only these scopes (the verifier intersects with what the token already allows). */
  scopes?: string[];
  /** Keep only these audiences. */
  audiences?: string[];
  /** Seconds from `now`: the token expires no later than that. */
  ttl?: number;
  /** Lower per-operation budgets (a higher number than the token's changes nothing). */
  budgets?: Record<string, number>;
  /** The next actor: only the workload presenting this SPIFFE ID's X.509-SVID may use the result. */
  delegateTo?: SpiffeId | string;
  now?: Date;
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export async function attenuate(token: string, o: AttenuateOptions): Promise<string> {
  const scopes = o.scopes === undefined ? undefined : [...new Set(o.scopes)];
  if (scopes && (scopes.length === 0 || scopes.some((s) => !SCOPE_TOKEN.test(s)))) {
    throw new DelegationError('ERR_DELEGATION_SCOPE', `attenuation scopes ${JSON.stringify(o.scopes)} must be a non-empty list of RFC 6749 scope tokens`, { reason: 'scope' });
  }
  const audiences = o.audiences === undefined ? undefined : [...new Set(o.audiences)];
  if (audiences && (audiences.length === 0 || audiences.some((a) => a.length === 0 || /\s/.test(a)))) {
    throw invalid('bad_claim', `attenuation audiences ${JSON.stringify(o.audiences)} must be a non-empty list without whitespace`);
  }
  if (o.ttl !== undefined && !(Number.isInteger(o.ttl) && o.ttl > 0)) throw invalid('bad_claim', `attenuation ttl ${o.ttl} must be a positive whole number of seconds`);
  for (const [op, n] of Object.entries(o.budgets ?? {})) {
    if (op.length === 0 || /\s/.test(op) || !(Number.isSafeInteger(n) && n >= 0)) throw invalid('bad_claim', `attenuation budget ${JSON.stringify(op)} = ${n}: an operation without whitespace and a whole number ≥ 0`);
  }
  let delegateTo: string | undefined;
  if (o.delegateTo !== undefined) {
    const id = typeof o.delegateTo === 'string' ? SpiffeId.parse(o.delegateTo) : o.delegateTo;
    if (id.isTrustDomainId) throw invalid('bad_actor', `delegateTo ${id} is a trust domain ID, not a workload`);
    delegateTo = id.toString();
  }
  const lib = biscuitLibLoaded() ?? await loadBiscuit();
  const parsed = await parseBiscuit(lib, token, o.rootKeys);
  try {
    const now = Math.floor((o.now?.getTime() ?? Date.now()) / 1000);
    const { code, params } = attenuationCode({
      scopes, audiences, expiresAt: o.ttl === undefined ? undefined : now + o.ttl, budgets: o.budgets, delegateTo,
    });
    const block = new lib.BlockBuilder();
    try {
      block.addCodeWithParameters(code, params, {});
      const next = parsed.biscuit.appendBlock(block);
      try { return next.toBase64(); } finally { next.free(); }
    } catch (e) {
      if (e instanceof DelegationError) throw e;
      throw invalid('malformed', `cannot append the attenuation block: ${describeLibError(e)}`, e);
    }
  } finally { parsed.biscuit.free(); }
}
