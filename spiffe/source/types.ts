import type { X509Svid } from '../x509svid/parse.ts';
import type { JwtSvid } from '../jwtsvid/types.ts';

/**
 * The small source interfaces everything composes on (go-spiffe's x509svid.Source,
 * jwtsvid.Source). The Workload API X509Source/JWTSource, a StaticX509Source and a
 * test fake all satisfy them, so TLS and JWT helpers never care where SVIDs come from.
 * Bundle sources are X509BundleSource / JwtBundleSource from spiffe/bundle/.
 */

/** Our own X.509-SVID (with its private key). Throws ERR_SOURCE_NO_SVID / ERR_SOURCE_CLOSED when it has none. */
export interface X509SvidSource {
  getX509Svid(): X509Svid;
}

export interface JwtSvidParams {
  /** At least one audience; the first is the primary one. */
  audience: string | string[];
  /** Which of the workload's identities; default its default identity. */
  subject?: string;
}

/** JWT-SVIDs for our own identity, minted on demand (FetchJWTSVID). */
export interface JwtSvidSource {
  fetchJwtSvid(p: JwtSvidParams): Promise<JwtSvid>;
}

/** Sources that change over time tell listeners; the returned function unsubscribes. */
export interface UpdateNotifier {
  onUpdate(listener: () => void): () => void;
}

export function isUpdateNotifier(x: unknown): x is UpdateNotifier {
  return typeof x === 'object' && x !== null && typeof (x as { onUpdate?: unknown }).onUpdate === 'function';
}

/** A tiny typed listener set shared by the sources. */
export class Listeners<A extends unknown[] = []> {
  private readonly set = new Set<(...args: A) => void>();
  add(fn: (...args: A) => void): () => void {
    this.set.add(fn);
    return () => { this.set.delete(fn); };
  }
  emit(...args: A): void {
    for (const fn of [...this.set]) {
      try { fn(...args); } catch { /* a listener's failure is its own */ }
    }
  }
  clear(): void { this.set.clear(); }
  get size(): number { return this.set.size; }
}
