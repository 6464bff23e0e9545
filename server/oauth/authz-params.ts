import { createHash } from 'node:crypto';
import { clip } from './http.ts';

/**
 * Parameter rules of the MCP authorization flow, shared by the authorization and token
 * endpoints: the canonical resource URI (RFC 8707 as MCP profiles it), PKCE S256
 * (RFC 7636; `plain` never), scope syntax (RFC 6749 §3.3). Each returns the parsed value
 * or an error text the caller wraps in its own error (redirect or JSON).
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string; description: string };

/**
 * The canonical form of an MCP server URI: absolute http(s) URI, no fragment, no
 * userinfo, scheme and host lowercased (uppercase is accepted, MCP 2026-07-28
 * "Canonical Server URI"); path, port and query kept exactly as given, so the token's
 * `aud` is the string the client and the MCP server agree on.
 */
export function canonicalResource(raw: string | undefined): Parsed<string> {
  if (raw === undefined) {
    return { ok: false, error: 'invalid_target', description: 'resource is required: name the MCP server the token is for (RFC 8707; its canonical URI, e.g. https://mcp.example.com/mcp)' };
  }
  const bad = (why: string): Parsed<string> => ({ ok: false, error: 'invalid_target', description: `resource ${clip(JSON.stringify(raw), 200)} ${why}` });
  if (raw.includes('#')) return bad('must not contain a fragment');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/.exec(raw);
  if (!m) return bad('must be an absolute URI (scheme://host[/path]) (RFC 8707)');
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') return bad('must be an http or https URI');
  const authority = m[2]!;
  if (authority.includes('@')) return bad('must not contain userinfo');
  if (authority.length === 0) return bad('has no host');
  let u: URL;
  try { u = new URL(raw); } catch { return bad('is not a valid URI'); }
  if (!u.hostname) return bad('has no host');
  return { ok: true, value: `${scheme}://${authority.toLowerCase()}${m[3]}${m[4] ?? ''}` };
}

const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export function parsePkce(challenge: string | undefined, method: string | undefined): Parsed<string> {
  if (challenge === undefined) {
    return { ok: false, error: 'invalid_request', description: 'code_challenge is required: this server requires PKCE with code_challenge_method S256' };
  }
  if (method === undefined) {
    return { ok: false, error: 'invalid_request', description: 'code_challenge_method is required and must be S256 (the default, plain, is not allowed)' };
  }
  if (method !== 'S256') {
    return { ok: false, error: 'invalid_request', description: `code_challenge_method ${clip(method, 40)} is not allowed; only S256 is supported` };
  }
  if (!CHALLENGE.test(challenge)) {
    return { ok: false, error: 'invalid_request', description: 'code_challenge must be the 43-character base64url SHA-256 of the code_verifier' };
  }
  return { ok: true, value: challenge };
}

/** Whether `verifier` is the S256 preimage of `challenge`; a malformed verifier is a reason too. */
export function checkVerifier(verifier: string, challenge: string): string | undefined {
  if (!VERIFIER.test(verifier)) return 'code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)';
  const s256 = createHash('sha256').update(verifier).digest('base64url');
  return s256 === challenge ? undefined : 'code_verifier does not match the code_challenge of the authorization request (PKCE S256)';
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const MAX_SCOPES = 64;

export function parseScopeParam(v: string | undefined): Parsed<string[] | undefined> {
  if (v === undefined) return { ok: true, value: undefined };
  const list = v.split(' ').filter((x) => x.length > 0);
  for (const s of list) {
    if (!SCOPE_TOKEN.test(s)) return { ok: false, error: 'invalid_scope', description: `scope ${clip(JSON.stringify(s), 80)} contains characters RFC 6749 §3.3 does not allow` };
  }
  if (list.length > MAX_SCOPES) return { ok: false, error: 'invalid_scope', description: `scope lists ${list.length} values; at most ${MAX_SCOPES}` };
  return { ok: true, value: [...new Set(list)] };
}

/** A redirect URI a client may register: absolute, no fragment, https or http on a loopback host (MCP "Communication Security"). */
export function checkRedirectUri(uri: string): string | undefined {
  let u: URL;
  try { u = new URL(uri); } catch { return `redirect URI ${clip(JSON.stringify(uri), 200)} is not an absolute URI`; }
  if (uri.includes('#')) return `redirect URI ${clip(uri, 200)} must not contain a fragment`;
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return undefined;
  if (u.protocol === 'http:') return `redirect URI ${clip(uri, 200)} must use https (http is allowed only for localhost / loopback addresses)`;
  // Private-use schemes of native apps (RFC 8252 §7.1) are reverse domain names.
  if (/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(u.protocol)) return undefined;
  return `redirect URI ${clip(uri, 200)} has scheme ${u.protocol.slice(0, -1)}; use https, http on loopback, or a reverse-domain private-use scheme`;
}

export const isLoopbackHost = (h: string): boolean =>
  h === 'localhost' || h === '[::1]' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
