import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { AttestationError, invalidArgument, permissionDenied } from '../../common/errors.ts';
import type { NodeAttestorServer } from '../../attestors/node/types.ts';
import type { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { normalizeSelectors, type Selector } from '../../spiffe/selector.ts';
import type { Datastore } from '../datastore/types.ts';
import { SvidSigner } from '../ca/signer.ts';

/**
 * Node attestation, independent of the transport: run the method's server half
 * (which may challenge the agent any number of times), enforce the server's rules
 * (banned agents never re-attest; trust-on-first-use methods attest once until an
 * operator evicts the agent), record the agent, sign its SVID, audit.
 */
export interface AttestationDeps {
  trustDomain: TrustDomain;
  methods: ReadonlyMap<string, NodeAttestorServer>;
  store: Pick<Datastore, 'getAgent' | 'upsertAgent' | 'appendAudit'>;
  signer: SvidSigner;
  clock: Clock;
  logger: Logger;
  agentSvidTtlSeconds: number;
}

export interface AttestationParams { method: string; payload: Uint8Array; csr: Uint8Array }

export interface AttestationOutcome {
  agentId: SpiffeId;
  selectors: Selector[];
  chain: Uint8Array[];
  serial: string;
  expiresAt: number;
}

export async function attestAgent(
  d: AttestationDeps, p: AttestationParams,
  io: { challenge(c: Uint8Array): Promise<Uint8Array>; signal?: AbortSignal },
): Promise<AttestationOutcome> {
  const method = d.methods.get(p.method);
  if (!method) {
    throw invalidArgument('ERR_ATTESTATION_METHOD', `attestation method "${p.method}" is not enabled on this server (enabled: ${[...d.methods.keys()].join(', ') || 'none'})`);
  }
  // Check the CSR before the method runs: a bad CSR must not burn a single-use token.
  const { publicKey } = SvidSigner.readCsr(p.csr, 'params.csr');

  const result = await method.attest(p.payload, {
    trustDomain: d.trustDomain, challenge: io.challenge, now: () => d.clock.now(), signal: io.signal,
  });
  const id = result.agentId;
  if (!id.memberOf(d.trustDomain)) {
    throw new AttestationError('internal', 'ERR_ATTESTATION_FOREIGN_ID', `method ${p.method} produced ${id} outside trust domain ${d.trustDomain}`);
  }
  const existing = await d.store.getAgent(id.toString());
  if (existing?.banned) {
    throw permissionDenied('ERR_AGENT_BANNED', `agent ${id} is banned; an operator must evict it before it can attest again`);
  }
  if (existing && result.trustOnFirstUse) {
    throw permissionDenied('ERR_AGENT_ALREADY_ATTESTED', `agent ${id} is already attested; evict it first (method ${p.method} is trust-on-first-use)`);
  }
  const svid = d.signer.signX509({ spiffeId: id, publicKey, ttlSeconds: d.agentSvidTtlSeconds });
  const now = Math.floor(d.clock.now() / 1000);
  const selectors = normalizeSelectors(result.selectors);
  await d.store.upsertAgent({
    spiffeId: id, attestationType: p.method, selectors, serial: svid.serial,
    expiresAt: Math.floor(svid.notAfter / 1000), banned: false,
    createdAt: existing?.createdAt ?? now, updatedAt: now,
  });
  await d.store.appendAudit({
    time: now, event: 'agent.attested', subject: id.toString(),
    data: { method: p.method, serial: svid.serial, selectors: selectors.map((s) => `${s.type}:${s.value}`), ...(result.audit ?? {}) },
  });
  d.logger.info('agent attested', { agent: id.toString(), method: p.method, serial: svid.serial });
  return { agentId: id, selectors, chain: svid.chain, serial: svid.serial, expiresAt: Math.floor(svid.notAfter / 1000) };
}
