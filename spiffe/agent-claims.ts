/**
 * Agent claims: what Tessera adds to SPIFFE SVIDs so that every log and every peer
 * can tell which AI agent (model, provider, version, running instance) holds an SVID.
 * JWT-SVIDs carry them as top-level claims; X.509-SVIDs as a non-critical extension
 * (see docs/agent-claims.md for the OID and its encoding).
 */
export interface AgentClaims {
  agent_model?: string;
  agent_provider?: string;
  agent_version?: string;
  agent_instance_id?: string;
}

/**
 * Tessera's OID arc: a UUID-derived OID (ITU-T X.667 / RFC 4122 section 4.1.2 of
 * "2.25"), needing no registration. UUID c0465fd9-37c6-4532-8890-dd4c49a0cb06, generated
 * once, as an integer. Sub-arcs under it: .1 = X.509 extensions.
 */
export const TESSERA_OID_ARC = '2.25.255577180009486267663502428657760127750';

/** The X.509 agent-claims extension (docs/agent-claims.md). */
export const AGENT_CLAIMS_OID = `${TESSERA_OID_ARC}.1.1`;

/**
 * The OID certificates issued before 0.2 carry (an enterprise arc never assigned to
 * this project). Still decoded for one release so SVIDs issued before an upgrade keep
 * their claims; never encoded.
 */
export const LEGACY_AGENT_CLAIMS_OID = '1.3.6.1.4.1.59999.1.1';

export const AGENT_CLAIM_KEYS = ['agent_model', 'agent_provider', 'agent_version', 'agent_instance_id'] as const;

/** Keeps only non-empty string claims, in a fixed key order (stable encoding). */
export function cleanAgentClaims(input: Partial<Record<string, unknown>> | undefined): AgentClaims {
  const out: AgentClaims = {};
  if (!input) return out;
  for (const k of AGENT_CLAIM_KEYS) {
    const v = input[k];
    if (typeof v === 'string' && v.length > 0) out[k] = v;
  }
  return out;
}

export function hasAgentClaims(c: AgentClaims): boolean {
  return AGENT_CLAIM_KEYS.some((k) => c[k] !== undefined);
}
