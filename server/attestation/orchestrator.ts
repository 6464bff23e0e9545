import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { AttestationError, invalidArgument, permissionDenied, TesseraError } from '../../common/errors.ts';
import type { NodeAttestorServer } from '../../attestors/node/types.ts';
import type { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { formatSelector, normalizeSelectors, type Selector } from '../../spiffe/selector.ts';
import type { Datastore } from '../datastore/types.ts';
import { SvidSigner } from '../ca/signer.ts';
import { createHash } from 'node:crypto';

/**
 * Node attestation, independent of the transport: run the method's server half
 * (which may challenge the agent any number of times), enforce the server's rules
 * (banned agents never re-attest; trust-on-first-use methods attest once until an
 * operator evicts the agent), record the agent, sign its SVID, audit.
 */
export interface AttestationDeps {
  trustDomain: TrustDomain;
  methods: ReadonlyMap<string, NodeAttestorServer>;
  store: Pick<Datastore, 'getAgent' | 'recordAttestedAgent' | 'appendAudit'>;
  signer: SvidSigner;
  clock: Clock;
  logger: Logger;
  agentSvidTtlSeconds: number;
  /**
   * Serializes the check-then-write on one agent ID (AgentAuthenticator.exclusive):
   * without it two trust-on-first-use attestations racing on a networked store both
   * pass the "not attested yet" check. Absent: no serialization (single caller tests).
   */
  exclusive?: <T>(agentId: string, fn: () => Promise<T>) => Promise<T>;
}

/**
 * Bounds on what an unauthenticated peer may hand the attestors. The largest real
 * payload (TPM: EK certificate + two TPM2B_PUBLIC, JSON/base64) is a few KiB; a CSR
 * with an RSA-4096 key is under 2 KiB. Anything larger is refused before any parsing.
 */
export const ATTEST_LIMITS = { payloadBytes: 64 * 1024, csrBytes: 8 * 1024, challengeResponseBytes: 64 * 1024 } as const;
const METHOD_NAME = /^[a-z0-9_]{1,64}$/;

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
  // The method name is echoed in the error and the audit log: never echo an arbitrary string.
  if (!METHOD_NAME.test(p.method)) {
    throw invalidArgument('ERR_ATTESTATION_METHOD', `attestation method (${p.method.length} characters) is not a method name ([a-z0-9_]{1,64})`);
  }
  const method = d.methods.get(p.method);
  if (!method) {
    throw invalidArgument('ERR_ATTESTATION_METHOD', `attestation method "${p.method}" is not enabled on this server (enabled: ${[...d.methods.keys()].join(', ') || 'none'})`);
  }
  if (p.payload.length > ATTEST_LIMITS.payloadBytes) {
    throw invalidArgument('ERR_ATTEST_TOO_LARGE', `params.payload is ${p.payload.length} bytes; at most ${ATTEST_LIMITS.payloadBytes} are accepted`);
  }
  if (p.csr.length > ATTEST_LIMITS.csrBytes) {
    throw invalidArgument('ERR_ATTEST_TOO_LARGE', `params.csr is ${p.csr.length} bytes; at most ${ATTEST_LIMITS.csrBytes} are accepted`);
  }
  // Check the CSR before the method runs: a bad CSR must not burn a single-use token.
  const { spki } = SvidSigner.readCsr(p.csr, 'params.csr');

  const result = await method.attest(p.payload, {
    trustDomain: d.trustDomain, challenge: io.challenge, now: () => d.clock.now(), signal: io.signal,
  });
  // The transport gave up (deadline, peer gone): nobody will receive the SVID, so record nothing.
  if (io.signal?.aborted) throw new TesseraError('deadline_exceeded', 'ERR_ATTEST_ABORTED', 'attestation was abandoned before it completed');
  const id = result.agentId;
  if (!id.memberOf(d.trustDomain)) {
    throw new AttestationError('internal', 'ERR_ATTESTATION_FOREIGN_ID', `method ${p.method} produced ${id} outside trust domain ${d.trustDomain}`);
  }
  const exclusive = d.exclusive ?? (<T>(_id: string, fn: () => Promise<T>) => fn());
  return exclusive(id.toString(), () => record(d, p, id, result.selectors, result.trustOnFirstUse, result.audit, spki));
}

/** Ban and TOFU rules, agent record, SVID, audit: one critical section per agent ID. */
async function record(
  d: AttestationDeps, p: AttestationParams, id: SpiffeId, attested: Selector[], trustOnFirstUse: boolean,
  audit: Record<string, unknown> | undefined, spki: Uint8Array,
): Promise<AttestationOutcome> {
  const existing = await d.store.getAgent(id.toString());
  if (existing?.banned) throw banned(id);
  if (existing && trustOnFirstUse) throw alreadyAttested(id, p.method);
  const svid = d.signer.signX509({ spiffeId: id, publicKey: spki, ttlSeconds: d.agentSvidTtlSeconds });
  const now = Math.floor(d.clock.now() / 1000);
  const selectors = normalizeSelectors(attested);
  // previousSerial is left out: a fresh attestation supersedes every earlier agent SVID.
  // The checks above hold only in this process (its lock): the write re-checks them in the
  // store, so a ban or a first-use attestation committed by another server meanwhile wins
  // and the SVID just signed is dropped.
  const written = await d.store.recordAttestedAgent({
    spiffeId: id, attestationType: p.method, selectors, serial: svid.serial,
    expiresAt: Math.floor(svid.notAfter / 1000), banned: false,
    createdAt: existing?.createdAt ?? now, updatedAt: now,
  }, { firstUse: trustOnFirstUse });
  if (!written.ok) throw written.reason === 'banned' ? banned(id) : alreadyAttested(id, p.method);
  await d.store.appendAudit({
    time: now, event: 'agent.attested', subject: id.toString(),
    data: {
      method: p.method, serial: svid.serial, selectors: selectors.map(formatSelector), ttl: d.agentSvidTtlSeconds,
      evidence_sha256: createHash('sha256').update(p.payload).digest('hex'), ...(audit ?? {}),
    },
  });
  d.logger.info('agent attested', { agent: id.toString(), method: p.method, serial: svid.serial });
  return { agentId: id, selectors, chain: svid.chain, serial: svid.serial, expiresAt: Math.floor(svid.notAfter / 1000) };
}

const banned = (id: SpiffeId) =>
  permissionDenied('ERR_AGENT_BANNED', `agent ${id} is banned; an operator must evict it before it can attest again`);
const alreadyAttested = (id: SpiffeId, method: string) =>
  permissionDenied('ERR_AGENT_ALREADY_ATTESTED', `agent ${id} is already attested; evict it first (method ${method} is trust-on-first-use)`);
