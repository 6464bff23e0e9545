import { DelegationError } from '../delegation/errors.ts';
import { isDelegationAlgorithm } from '../delegation/keys.ts';
import type { DelegationKeySource } from '../delegation/types.ts';
import { verifySignature } from '../delegation/verify.ts';
import { SetRejected } from './errors.ts';

/** A verified Security Event Token (RFC 8417) as SSF 1.0 profiles it. */
export interface SecurityEvent {
  jti: string;
  iss: string;
  aud: string[];
  iat: number;
  txn?: string;
  /** The subject of the event (`sub_id`, SSF §3). */
  subject: Record<string, unknown> & { format: string };
  /** The one event type URI, and its payload. */
  type: string;
  event: Record<string, unknown>;
  /** The SET as received. */
  set: string;
}

export interface VerifySetOptions {
  /** The transmitter's signing keys (for Tessera: its /oauth2/jwks, e.g. createRemoteDelegationKeys). */
  keys: DelegationKeySource;
  /** The transmitter's issuer: `iss` must be exactly this. */
  issuer: string;
  /** This receiver's audience (Tessera: its SPIFFE ID); `aud` must name one of these. */
  audience: string | string[];
}

/**
 * Verifies a SET: compact JWS, `typ: secevent+jwt` (SSF §4.1.1, so no other JWT of the
 * issuer passes as one), an allowed algorithm, the signature by a key of `keys`, `iss`,
 * `aud`, `jti`, `iat`, no `sub` and no `exp` (SSF §4.1.2, §4.1.6), one event in
 * `events` and a `sub_id`. Throws SetRejected with the RFC 8935 error code.
 */
export async function verifySet(set: string, o: VerifySetOptions): Promise<SecurityEvent> {
  const parts = set.split('.');
  if (parts.length !== 3) throw new SetRejected('invalid_request', 'the SET is not a JWS in compact serialization');
  const header = json(parts[0]!);
  const claims = json(parts[1]!);
  if (!header || !claims) throw new SetRejected('invalid_request', 'the SET header or payload is not base64url JSON');
  if (header.typ !== 'secevent+jwt' && header.typ !== 'application/secevent+jwt') {
    throw new SetRejected('invalid_request', `the SET typ ${JSON.stringify(header.typ)} is not secevent+jwt`);
  }
  if (!isDelegationAlgorithm(header.alg)) throw new SetRejected('invalid_key', `the SET alg ${JSON.stringify(header.alg)} is not allowed`);
  if (typeof header.kid !== 'string' || !header.kid) throw new SetRejected('invalid_key', 'the SET header has no kid');
  if (header.crit !== undefined) throw new SetRejected('invalid_request', 'the SET carries crit header parameters, which are not supported');
  let key;
  try { key = await o.keys.getKey(header.kid); } catch (e) {
    if (e instanceof DelegationError) throw new SetRejected('invalid_key', `the transmitter's keys are unavailable: ${e.message}`);
    throw e;
  }
  if (!key) throw new SetRejected('invalid_key', `the SET kid ${JSON.stringify(header.kid).slice(0, 100)} is not a key of the transmitter`);
  if (key.alg !== undefined && key.alg !== header.alg) throw new SetRejected('invalid_key', `key ${header.kid} is for ${key.alg}, not ${String(header.alg)}`);
  if (!verifySignature(header.alg, key.key, Buffer.from(`${parts[0]}.${parts[1]}`), Buffer.from(parts[2]!, 'base64url'))) {
    throw new SetRejected('authentication_failed', 'the SET signature does not verify');
  }
  if (claims.iss !== o.issuer) throw new SetRejected('invalid_issuer', `the SET iss ${JSON.stringify(claims.iss).slice(0, 200)} is not ${o.issuer}`);
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
  const want = typeof o.audience === 'string' ? [o.audience] : o.audience;
  if (!aud.some((a) => want.includes(a))) throw new SetRejected('invalid_audience', `the SET aud ${JSON.stringify(claims.aud).slice(0, 200)} does not name this receiver (${want.join(', ')})`);
  if (typeof claims.jti !== 'string' || !claims.jti) throw new SetRejected('invalid_request', 'the SET has no jti');
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) throw new SetRejected('invalid_request', 'the SET has no numeric iat');
  if (claims.sub !== undefined) throw new SetRejected('invalid_request', 'an SSF SET must not carry sub (the subject is sub_id)');
  if (claims.exp !== undefined) throw new SetRejected('invalid_request', 'an SSF SET must not carry exp');
  const events = claims.events as Record<string, unknown> | undefined;
  const types = events && typeof events === 'object' && !Array.isArray(events) ? Object.keys(events) : [];
  if (types.length !== 1) throw new SetRejected('invalid_request', `the SET must carry exactly one event (it carries ${types.length})`);
  const event = events![types[0]!];
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new SetRejected('invalid_request', 'the SET event payload is not an object');
  const sub = claims.sub_id as Record<string, unknown> | undefined;
  if (typeof sub !== 'object' || sub === null || typeof sub.format !== 'string') throw new SetRejected('invalid_request', 'the SET has no sub_id {format, …}');
  return {
    jti: claims.jti, iss: o.issuer, aud, iat: claims.iat, ...(typeof claims.txn === 'string' ? { txn: claims.txn } : {}),
    subject: sub as SecurityEvent['subject'], type: types[0]!, event: event as Record<string, unknown>, set,
  };
}

function json(seg: string): Record<string, any> | undefined {
  try {
    const v = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch { return undefined; }
}
