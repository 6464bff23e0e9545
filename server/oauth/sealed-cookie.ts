import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../../common/errors.ts';

/**
 * The browser flow's server-side state travels in one cookie, sealed (AES-256-GCM, key
 * derived from a server secret, the cookie's purpose as associated data): the person's
 * sign-in transaction, then the pending consent. The client sees neither the upstream
 * PKCE verifier nor the consent's CSRF token, cannot forge or alter either, and nothing
 * is kept in one server's memory, so any server sharing the secret continues the flow.
 *
 * `__Host-` prefix: Secure, Path=/, no Domain (a sibling host cannot plant it).
 * HttpOnly; SameSite=Lax: it must ride the IdP's top-level redirect back to us, never a
 * cross-site POST.
 */
export const FLOW_COOKIE = '__Host-tessera_authz';
const MAX_COOKIE_BYTES = 3800;

export class CookieSealer {
  private readonly key: Buffer;

  constructor(secret: Uint8Array) {
    if (secret.length < 32) throw new ConfigError('the cookie secret must be at least 32 bytes');
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'tessera oauth flow cookie', 32));
  }

  /** oauth.cookie_secret_file, or a random secret for this process. */
  static fromConfig(file: string | undefined): CookieSealer {
    if (file === undefined) return new CookieSealer(randomBytes(32));
    let secret: Buffer;
    try { secret = readFileSync(file); } catch (e) {
      throw new ConfigError(`config: oauth.cookie_secret_file: cannot read ${file}: ${(e as Error).message}`);
    }
    if (secret.length < 32) throw new ConfigError(`config: oauth.cookie_secret_file: ${file} holds ${secret.length} bytes; at least 32 are required`);
    return new CookieSealer(secret);
  }

  seal(purpose: string, value: unknown): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(purpose));
    const ct = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    const out = Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64url');
    if (out.length > MAX_COOKIE_BYTES) throw new Error(`sealed ${purpose} cookie is ${out.length} bytes`);
    return out;
  }

  /** The value, or undefined when absent, forged, altered or sealed for another purpose. */
  open<T>(purpose: string, sealed: string | undefined): T | undefined {
    if (!sealed) return undefined;
    try {
      const buf = Buffer.from(sealed, 'base64url');
      if (buf.length < 12 + 16 + 2) return undefined;
      const d = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, 12));
      d.setAAD(Buffer.from(purpose));
      d.setAuthTag(buf.subarray(buf.length - 16));
      const pt = Buffer.concat([d.update(buf.subarray(12, buf.length - 16)), d.final()]);
      return JSON.parse(pt.toString('utf8')) as T;
    } catch { return undefined; }
  }
}

export function setCookieHeader(value: string, maxAgeSeconds: number): string {
  return `${FLOW_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; Secure; HttpOnly; SameSite=Lax`;
}

export const clearCookieHeader = (): string => `${FLOW_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`;

export function readCookie(req: IncomingMessage, name = FLOW_COOKIE): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
