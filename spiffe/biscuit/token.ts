import type * as W from '@biscuit-auth/biscuit-wasm';
import { DelegationError, invalid } from '../delegation/errors.ts';
import type { BiscuitRootKeySource } from './keys.ts';
import { blockTimeBound, parseBlockFacts, type BlockFacts } from './vocabulary.ts';
import type { BiscuitLib } from './wasm.ts';

/**
 * Parsing a Biscuit (signatures checked against the root key its root_key_id names)
 * and reading back each block's facts. Parsed facts are cached by the block's
 * revocation id: that id is the block's signature, which covers its content and the
 * chain before it, so the same id always means the same facts.
 */
export const MAX_TOKEN_CHARS = 16_384;
const MAX_BLOCKS = 16;
const factCache = new Map<string, { facts: BlockFacts; timeBound: number | undefined }>();
const MAX_CACHED_BLOCKS = 2048;

export interface ParsedBiscuit {
  biscuit: W.Biscuit;
  /** Hex, authority first. */
  revocationIds: string[];
  /** Authority first. */
  blocks: BlockFacts[];
  /** Per block, authority first: see blockTimeBound. */
  timeBounds: (number | undefined)[];
  /** The root key the signatures verified under (verify-cache.ts re-checks it is still trusted). */
  rootKey: { id: number | undefined; publicKey: Uint8Array };
}

/** A library error (thrown as a plain object by the wasm glue) as text. */
export function describeLibError(e: unknown): string {
  if (e instanceof Error) return e.message;
  try { return JSON.stringify(e).slice(0, 500); } catch { return String(e); }
}

export async function parseBiscuit(lib: BiscuitLib, token: string, keys: BiscuitRootKeySource): Promise<ParsedBiscuit> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+=*$/.test(token)) {
    throw invalid('malformed', `Biscuit token is not URL-safe base64 of at most ${MAX_TOKEN_CHARS} characters`);
  }
  let unknownId: number | undefined | null = null;
  let used: ParsedBiscuit['rootKey'] | undefined;
  const provider = (id: number | undefined) => {
    const k = keys.rootKey(id ?? undefined);
    if (!k) { unknownId = id; throw new Error(`unknown root key ${String(id)}`); }
    used = { id: id ?? undefined, publicKey: k.publicKey };
    // A fresh object each time: the library takes ownership of what the provider returns.
    return lib.PublicKey.fromBytes(k.publicKey, lib.SignatureAlgorithm.Ed25519);
  };
  let biscuit: W.Biscuit;
  try {
    biscuit = lib.Biscuit.fromBase64WithProvider(token, provider);
  } catch (e) {
    if (unknownId !== null && keys.refresh) {
      const id = unknownId;
      await keys.refresh();
      if (!keys.rootKey(id ?? undefined)) throw invalid('key_not_found', `no Biscuit root key ${id === undefined ? '(the token names none)' : id} at the issuer`);
      try { biscuit = lib.Biscuit.fromBase64WithProvider(token, provider); } catch (e2) { throw signatureError(e2); }
    } else if (unknownId !== null) {
      throw invalid('key_not_found', `no Biscuit root key ${unknownId === undefined ? '(the token names none)' : unknownId} among the trusted root keys`);
    } else {
      throw signatureError(e);
    }
  }
  const n = biscuit.countBlocks();
  if (n > MAX_BLOCKS) throw invalid('malformed', `Biscuit token has ${n} blocks; at most ${MAX_BLOCKS}`);
  const revocationIds = (biscuit.getRevocationIdentifiers() as string[]).map(String);
  const blocks: BlockFacts[] = [];
  const timeBounds: (number | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const rid = revocationIds[i]!;
    let f = factCache.get(rid);
    if (!f) {
      const source = biscuit.getBlockSource(i);
      try { f = { facts: parseBlockFacts(source), timeBound: blockTimeBound(source) }; } catch (e) { throw invalid('malformed', `Biscuit block ${i}: ${(e as Error).message}`, e); }
      if (factCache.size >= MAX_CACHED_BLOCKS) factCache.clear();
      factCache.set(rid, f);
    }
    blocks.push(f.facts);
    timeBounds.push(f.timeBound);
  }
  return { biscuit, revocationIds, blocks, timeBounds, rootKey: used! };
}

function signatureError(e: unknown): DelegationError {
  const text = describeLibError(e);
  const reason = /signature/i.test(text) ? 'bad_signature' : 'malformed';
  return invalid(reason, `Biscuit token does not verify: ${text}`, e);
}
