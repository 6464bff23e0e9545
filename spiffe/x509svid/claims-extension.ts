import { AGENT_CLAIM_KEYS, AGENT_CLAIMS_OID, LEGACY_AGENT_CLAIMS_OID, cleanAgentClaims, type AgentClaims } from '../agent-claims.ts';
import { DerError, TAG, children, ctx, expectWhole, seq, tlv, valueOf } from '../der.ts';
import { X509SvidError } from '../errors.ts';
import { readCertificate, type CertificateFields } from './certificate.ts';

/**
 * The agent-claims X.509 extension (docs/agent-claims.md):
 *
 *   AgentClaims ::= SEQUENCE {
 *     model       [0] IMPLICIT UTF8String OPTIONAL,
 *     provider    [1] IMPLICIT UTF8String OPTIONAL,
 *     version     [2] IMPLICIT UTF8String OPTIONAL,
 *     instanceId  [3] IMPLICIT UTF8String OPTIONAL,
 *     ... }
 *
 * Tag n is AGENT_CLAIM_KEYS[n]. Higher tags are reserved for later claims and
 * skipped by this decoder, so older readers accept newer certificates.
 */

const MAX_CLAIM_BYTES = 1024;

export function encodeAgentClaimsExtension(c: AgentClaims): Uint8Array {
  const clean = cleanAgentClaims(c as Record<string, unknown>);
  const parts: Uint8Array[] = [];
  AGENT_CLAIM_KEYS.forEach((k, n) => {
    const v = clean[k];
    if (v === undefined) return;
    const bytes = Buffer.from(v, 'utf8');
    if (bytes.length > MAX_CLAIM_BYTES) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', `agent claim ${k} exceeds ${MAX_CLAIM_BYTES} bytes`);
    }
    parts.push(tlv(ctx(n, false), bytes));
  });
  return seq(...parts);
}

export function decodeAgentClaimsExtension(extnValue: Uint8Array): AgentClaims {
  try {
    const outer = expectWhole(extnValue, TAG.SEQUENCE, 'AgentClaims');
    const out: AgentClaims = {};
    let last = -1;
    for (const t of children(extnValue, outer)) {
      if ((t.tag & 0xe0) !== 0x80) throw new DerError(`AgentClaims element 0x${t.tag.toString(16)} is not [n] IMPLICIT`);
      const n = t.tag & 0x1f;
      if (n <= last) throw new DerError('AgentClaims elements are out of order or repeated');
      last = n;
      const key = AGENT_CLAIM_KEYS[n];
      if (key === undefined) continue;
      const text = new TextDecoder('utf-8', { fatal: true }).decode(valueOf(extnValue, t));
      if (text.length > 0) out[key] = text;
    }
    return out;
  } catch (err) {
    if (err instanceof DerError || err instanceof TypeError) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', `agent-claims extension is invalid: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The agent claims of a certificate; {} when it has no agent-claims extension. */
export function agentClaimsFromCertificate(certDer: Uint8Array): AgentClaims {
  return agentClaimsOf(readCertificate(certDer));
}

/** The same, for a certificate already read. */
export function agentClaimsOf(f: CertificateFields): AgentClaims {
  // The legacy OID is read for one release only (docs/agent-claims.md); the new one wins.
  const ext = f.extensions.get(AGENT_CLAIMS_OID) ?? f.extensions.get(LEGACY_AGENT_CLAIMS_OID);
  return ext ? decodeAgentClaimsExtension(ext.value) : {};
}
