import { createPublicKey, X509Certificate, type KeyObject, type JsonWebKey } from 'node:crypto';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { AttestationError } from '../../../common/errors.ts';
import { describeFailure, fetchText } from './http.ts';

/**
 * Signing keys published at a URL (Google's certs, Microsoft's discovery keys),
 * cached for `maxAgeMs` and fetched again when a token names a key id we do not
 * have (the provider rotated), at most once per `minRefreshMs` so a stream of
 * tokens with made-up key ids cannot turn the server into a request amplifier.
 * Accepts a JWKS (`{"keys":[...]}`) or Google's v1 form (`{"<kid>": "<PEM cert>"}`).
 * Only RSA keys are kept: every cloud token accepted here is RS256.
 */
export interface RemoteKeySetOptions {
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
  maxAgeMs: number;
  minRefreshMs: number;
  /** Error code prefix, e.g. "ERR_GCP_IIT". */
  codePrefix: string;
}

export class RemoteKeySet {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = -Infinity;
  private inflight: Promise<void> | undefined;

  constructor(readonly url: string, private readonly opts: RemoteKeySetOptions) {}

  /**
   * The key named `kid`. Takes no abort signal on purpose: a fetch is shared by every
   * attestation waiting on it, so it is bounded by the timeout, not by whichever
   * caller's signal happened to start it.
   */
  async get(kid: string): Promise<KeyObject> {
    const now = this.opts.clock.now();
    if (now - this.fetchedAt > this.opts.maxAgeMs) await this.refresh(this.keys.size > 0);
    let key = this.keys.get(kid);
    if (!key && this.opts.clock.now() - this.fetchedAt >= this.opts.minRefreshMs) {
      await this.refresh(true);
      key = this.keys.get(kid);
    }
    if (!key) {
      throw new AttestationError('permission_denied', `${this.opts.codePrefix}_KEY_UNKNOWN`,
        `token is signed with key id "${kid}", which is not among the trusted keys at ${this.url}`);
    }
    return key;
  }

  private refresh(keepStaleOnFailure: boolean): Promise<void> {
    this.inflight ??= this.load(keepStaleOnFailure).finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async load(keepStaleOnFailure: boolean): Promise<void> {
    let text: string;
    try {
      text = await fetchText(this.url, { headers: { accept: 'application/json' } }, this.opts.timeoutMs);
    } catch (err) {
      const reason = describeFailure(err, this.opts.timeoutMs);
      if (keepStaleOnFailure && this.keys.size > 0) {
        // Provider briefly down: keys we already trust stay good until it is back.
        this.opts.logger.warn('signing keys refresh failed; keeping cached keys', { url: this.url, reason });
        this.fetchedAt = this.opts.clock.now();
        return;
      }
      throw new AttestationError('unavailable', `${this.opts.codePrefix}_KEYS_UNAVAILABLE`, `cannot fetch signing keys from ${this.url}: ${reason}`, { cause: err });
    }
    let keys: Map<string, KeyObject>;
    try { keys = parseKeyDocument(JSON.parse(text)); } catch (err) {
      throw new AttestationError('unavailable', `${this.opts.codePrefix}_KEYS_UNAVAILABLE`, `signing keys at ${this.url} do not parse: ${(err as Error).message}`, { cause: err });
    }
    this.keys = keys;
    this.fetchedAt = this.opts.clock.now();
    this.opts.logger.debug('signing keys fetched', { url: this.url, kids: [...keys.keys()] });
  }
}

export function parseKeyDocument(doc: unknown): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object');
  const keys = (doc as { keys?: unknown }).keys;
  if (Array.isArray(keys)) {
    for (const jwk of keys as (JsonWebKey & { kid?: string; use?: string })[]) {
      if (typeof jwk?.kid !== 'string' || jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
      out.set(jwk.kid, createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' }));
    }
    return out;
  }
  for (const [kid, pem] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof pem !== 'string' || !pem.includes('BEGIN CERTIFICATE')) continue;
    const key = new X509Certificate(pem).publicKey;
    if (key.asymmetricKeyType === 'rsa') out.set(kid, key);
  }
  return out;
}
