import type { KeyObject } from 'node:crypto';
import { SpiffeId } from '../../spiffe/id.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import { TesseraError, internal } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { X509SVIDResult__Output } from '../../proto/gen/tessera-api/tessera/v1/X509SVIDResult.ts';
import type { SignParams } from '../bootstrap/server-api.ts';
import { newKeyPair } from '../bootstrap/attest.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import type { SyncedEntry } from '../sync/entry-cache.ts';

/** The server calls the SVID cache needs (ServerApi in the agent; a small fake in tests). */
export interface SvidSigner {
  batchSignX509Svids(params: SignParams[]): Promise<X509SVIDResult__Output[]>;
  mintJwtSvid(p: { entryId: string; audience: string[]; instanceId: string }): Promise<{ token: string; expiresAt: number }>;
  /** Fires when later calls go out with new agent credentials (renewed SVID, new bundle); returns the unsubscribe. */
  onCredentialsChange?(listener: () => void): () => void;
}

export interface MintRequest { entry: SyncedEntry; /** "" = the entry's shared SVID */ instanceId: string }

export interface MintedX509 {
  certChain: Uint8Array[];
  /** PKCS#8 DER. */
  privateKey: Uint8Array;
  /** ms since the epoch. */
  notBefore: number;
  notAfter: number;
}

/**
 * Mints X.509-SVIDs through CSRs: a fresh EC P-256 key per SVID, and every request
 * made in the same tick goes to the server in one BatchSignX509SVID call (chunked),
 * so a rotation wave or a new entry seen by many streams costs one round trip.
 */
export class X509Minter {
  private queue: { req: MintRequest; resolve: (m: MintedX509) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly signer: SvidSigner, private readonly logger: Logger, private readonly maxBatch = 500) {}

  mint(req: MintRequest): Promise<MintedX509> {
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      if (!this.scheduled) { this.scheduled = true; setImmediate(() => void this.flush()); }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (let i = 0; i < batch.length; i += this.maxBatch) await this.signChunk(batch.slice(i, i + this.maxBatch));
  }

  private async signChunk(items: typeof this.queue): Promise<void> {
    let prepared: { key: KeyObject; csr: Uint8Array }[];
    try {
      prepared = await Promise.all(items.map(async ({ req }) => {
        const { privateKey, publicKey } = await newKeyPair();
        return { key: privateKey, csr: await createCsr(privateKey, publicKey, SpiffeId.parse(req.entry.spiffeId)) };
      }));
    } catch (e) {
      for (const it of items) it.reject(internal('ERR_CSR', `cannot build CSR: ${(e as Error).message}`, e));
      return;
    }
    let results: X509SVIDResult__Output[];
    const started = Date.now();
    try {
      results = await this.signer.batchSignX509Svids(items.map(({ req }, i) => ({ entryId: req.entry.id, csr: prepared[i]!.csr, instanceId: req.instanceId })));
    } catch (e) {
      for (const it of items) it.reject(e);
      return;
    }
    this.logger.debug('signed X.509-SVIDs', { count: items.length, ms: Date.now() - started });
    items.forEach((it, i) => {
      const r = results[i];
      if (!r || r.entry_id !== it.req.entry.id) {
        return it.reject(internal('ERR_SIGN_RESPONSE', `BatchSignX509SVID answered ${results.length} results for ${items.length} requests (item ${i}: ${r?.entry_id ?? 'missing'})`));
      }
      if (r.status && r.status.code !== 0) {
        return it.reject(new TesseraError(r.status.code === 7 ? 'permission_denied' : r.status.code === 5 ? 'not_found' : 'internal',
          'ERR_SIGN_REFUSED', `server refused to sign an SVID for entry ${it.req.entry.id}: ${r.status.message}`));
      }
      try {
        const { certChain, privateKey } = packSvid(r.cert_chain, prepared[i]!.key.export({ type: 'pkcs8', format: 'der' }));
        // The pure-JS DER reader, not node's X509Certificate: no OpenSSL object per SVID
        // left for the GC to finalize (native memory that inflated the agent's RSS).
        const leaf = readCertificate(certChain[0]!);
        const id = leaf.uris.length === 1 ? leaf.uris[0] : undefined;
        if (id !== it.req.entry.spiffeId) throw new Error(`SVID names ${id}, entry is ${it.req.entry.spiffeId}`);
        it.resolve({
          certChain,
          privateKey,
          notBefore: leaf.notBefore.getTime(),
          notAfter: r.expires_at ? r.expires_at * 1000 : leaf.notAfter.getTime(),
        });
      } catch (e) {
        it.reject(internal('ERR_SIGN_RESPONSE', `server returned an unusable SVID for entry ${it.req.entry.id}: ${(e as Error).message}`, e));
      }
    });
  }
}

/**
 * Copies an SVID's certificates and PKCS#8 key into one fresh buffer and returns views
 * of it. One copy is needed anyway (gRPC's decoded bytes are views into the whole
 * batch response, which must not be kept alive); one backing store per SVID instead
 * of one per certificate and key keeps the per-SVID overhead of 10,000 cached SVIDs down.
 */
export function packSvid(chain: readonly Uint8Array[], pkcs8: Uint8Array): { certChain: Uint8Array[]; privateKey: Uint8Array } {
  if (chain.length === 0) throw new Error('empty certificate chain');
  let size = pkcs8.length;
  for (const c of chain) size += c.length;
  const buf = new Uint8Array(size);
  let off = 0;
  const certChain = chain.map((c) => { buf.set(c, off); const v = buf.subarray(off, off + c.length); off += c.length; return v; });
  buf.set(pkcs8, off);
  return { certChain, privateKey: buf.subarray(off) };
}
