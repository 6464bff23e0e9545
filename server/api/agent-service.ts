import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { failedPrecondition, invalidArgument, permissionDenied, TesseraError } from '../../common/errors.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import { cleanAgentClaims } from '../../spiffe/agent-claims.ts';
import type { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import type { Datastore, RegistrationEntry, RenewOutcome } from '../datastore/types.ts';
import type { CaManager } from '../ca/manager.ts';
import { SvidSigner } from '../ca/signer.ts';
import { ATTEST_LIMITS, attestAgent, type AttestationDeps } from '../attestation/orchestrator.ts';
import type { AgentServiceHandlers } from '../../proto/gen/tessera-api/tessera/v1/AgentService.ts';
import type { AttestRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/AttestRequest.ts';
import type { X509SVIDResult } from '../../proto/gen/tessera-api/tessera/v1/X509SVIDResult.ts';
import type { AgentAuthenticator } from './authn.ts';
import type { EntryView } from './entry-view.ts';
import { serveSync } from './sync-stream.ts';
import type { FederatedBundleSource } from '../federation/agent-push.ts';
import { unary as unaryHandler } from './unary.ts';
import { errorToStatus, OK_STATUS } from './wire.ts';
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/log.ts';
import { recordActionHandler } from './audit-record-action.ts';
import { NO_OBSERVER, outcomeOf, type AgentApiObserver, type IssuedSvidType } from './observer.ts';
import { toWireBundle, toWireSelector } from '../entries/wire.ts';
import { WitIssuer } from '../wit/issuer.ts';
import { mintWitSvidHandler } from '../wit/mint-handler.ts';

/**
 * tessera.v1.AgentService: the transport adapter. Attest is the only RPC callable
 * without an agent SVID; every other one authenticates the caller first (authn.ts).
 * Signing and minting are limited to the caller's authorized entries and to each
 * entry's exact SPIFFE ID. Typed errors become gRPC statuses via common/grpc-status.
 */
export interface AgentServiceDeps {
  trustDomain: TrustDomain;
  ca: CaManager;
  signer: SvidSigner;
  store: Datastore;
  view: EntryView;
  authn: AgentAuthenticator;
  attestation: AttestationDeps;
  clock: Clock;
  logger: Logger;
  x509SvidTtlSeconds: number;
  jwtSvidTtlSeconds: number;
  /** WIT-SVID lifetime (server/wit); default DEFAULT_WIT_SVID_TTL_SECONDS. */
  witSvidTtlSeconds?: number;
  agentSvidTtlSeconds: number;
  /** How long Attest waits for each challenge response. Default 60 s. */
  challengeTimeoutMs?: number;
  /** How long Attest waits for the first (params) message. Default 10 s. */
  firstMessageTimeoutMs?: number;
  /** Upper bound on one whole attestation, challenges included. Default 5 min. */
  attestTimeoutMs?: number;
  /** Attest streams in flight at once (unauthenticated callers). Default 256. */
  maxConcurrentAttestations?: number;
  /** Open SyncEntries streams per agent. Default 8 (an agent needs one). */
  maxSyncStreamsPerAgent?: number;
  /** Foreign trust domains' bundles (docs/federation.md), pushed on sync streams to agents whose entries federate with them. */
  foreignBundles?: FederatedBundleSource;
  /** The transparency log (docs/audit.md): issuance events and action receipts; absent = audit.enabled false. */
  audit?: AuditLog;
  /** Metrics (server/metrics): issuance and attestation outcomes, sync streams, push lag. */
  observer?: AgentApiObserver;
}

/** agent_instance_id as agents derive it (docs/architecture.md): "inst_" + 22 base64url characters. */
const INSTANCE_ID = /^inst_[A-Za-z0-9_-]{22}$/;
/** The node agent sends at most 500 per call; more is a misbehaving caller. */
const MAX_BATCH = 1000;
const MAX_AUDIENCES = 32;
const MAX_AUDIENCE_CHARS = 1024;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const clip = (s: string, n = 256) => (s.length > n ? `${s.slice(0, n)}…` : s);
const resourceExhausted = (code: string, msg: string) => new TesseraError('resource_exhausted', code, msg);
const deadline = (code: string, msg: string) => new TesseraError('deadline_exceeded', code, msg);

export function agentServiceHandlers(d: AgentServiceDeps): AgentServiceHandlers {
  const log = d.logger.child({ component: 'agent-api' });
  const limits = {
    challengeMs: d.challengeTimeoutMs ?? 60_000,
    firstMessageMs: d.firstMessageTimeoutMs ?? 10_000,
    attestMs: d.attestTimeoutMs ?? 300_000,
    attestations: d.maxConcurrentAttestations ?? 256,
    syncPerAgent: d.maxSyncStreamsPerAgent ?? 8,
  };
  let attestationsInFlight = 0;
  const syncStreams = new Map<string, number>();
  // Every read-modify-write of an agent record runs under the authenticator's per-agent lock.
  const attestation: AttestationDeps = { ...d.attestation, exclusive: d.attestation.exclusive ?? ((id, fn) => d.authn.exclusive(id, fn)) };

  const unary = <Req, Res>(name: string, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>) => unaryHandler(log, name, fn);
  const obs = d.observer ?? NO_OBSERVER;
  /** A one-SVID RPC whose outcome is counted. */
  const issuing = <Req, Res>(type: IssuedSvidType, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    async (call: grpc.ServerUnaryCall<Req, Res>): Promise<Res> => {
      try { const r = await fn(call); obs.svidIssued(type, 'ok'); return r; } catch (e) { obs.svidIssued(type, outcomeOf(e)); throw e; }
    };

  const authorizedEntry = (agentId: string, entryId: string): RegistrationEntry => {
    const e = d.view.isAuthorized(agentId, entryId);
    if (!e) throw permissionDenied('ERR_ENTRY_NOT_AUTHORIZED', `entry "${clip(entryId, 128)}" is not in the authorized set of agent ${agentId}`);
    return e;
  };

  const claimsFor = (e: RegistrationEntry, instanceId: string) => {
    if (instanceId && !INSTANCE_ID.test(instanceId)) {
      throw invalidArgument('ERR_INSTANCE_ID', `instance_id "${clip(instanceId, 64)}" must be "inst_" followed by 22 characters of [A-Za-z0-9_-]`);
    }
    return cleanAgentClaims({
      agent_model: e.agent.model, agent_provider: e.agent.provider, agent_version: e.agent.version, agent_instance_id: instanceId,
    });
  };

  return {
    Attest(call) {
      const ac = new AbortController();
      let waiter: { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void } | undefined;
      let started = false;
      let ended = false;
      let holdsSlot = false;
      const timers: NodeJS.Timeout[] = [];
      const release = () => {
        for (const tm of timers) clearTimeout(tm);
        if (holdsSlot) { holdsSlot = false; attestationsInFlight--; }
      };
      const fail = (e: unknown) => {
        if (ended) return;
        ended = true;
        release();
        ac.abort();
        waiter?.reject(e);
        call.emit('error', toGrpcError(e));
      };
      const streamEnded = () => invalidArgument('ERR_ATTEST_STREAM_ENDED', 'attestation stream ended before the challenge was answered');
      call.on('cancelled', () => { ended = true; release(); ac.abort(); waiter?.reject(streamEnded()); });
      // A half-close before params would otherwise leave the stream open until the peer goes away.
      call.on('end', () => {
        if (!started) fail(invalidArgument('ERR_ATTEST_NO_PARAMS', 'attestation stream ended before the params message'));
        else waiter?.reject(streamEnded());
      });
      call.on('error', () => { ended = true; release(); ac.abort(); });
      if (attestationsInFlight >= limits.attestations) {
        fail(resourceExhausted('ERR_ATTEST_BUSY', `too many attestations in progress (${limits.attestations}); retry with backoff`));
        return;
      }
      attestationsInFlight++;
      holdsSlot = true;
      // Unauthenticated peers must not hold a stream (and a slot) for ever.
      timers.push(setTimeout(() => { if (!started) fail(deadline('ERR_ATTEST_NO_PARAMS', `no params message within ${limits.firstMessageMs} ms`)); }, limits.firstMessageMs));
      timers.push(setTimeout(() => fail(deadline('ERR_ATTEST_TIMEOUT', `attestation did not complete within ${limits.attestMs} ms`)), limits.attestMs));

      call.on('data', (msg: AttestRequest__Output) => {
        if (ended) return;
        if (!started) {
          started = true;
          if (msg.step !== 'params' || !msg.params) {
            fail(invalidArgument('ERR_ATTEST_NO_PARAMS', 'the first attestation message must be params'));
            return;
          }
          const p = msg.params;
          // Unauthenticated callers choose the method string: only configured names become labels.
          const methodLabel = attestation.methods.has(p.method) ? p.method : 'unknown';
          const challenge = (c: Uint8Array) => new Promise<Uint8Array>((resolve, reject) => {
            if (ended) return reject(streamEnded());
            const timer = setTimeout(() => reject(deadline('ERR_ATTEST_CHALLENGE_TIMEOUT', 'no challenge response within the deadline')), limits.challengeMs);
            waiter = {
              resolve: (b) => { clearTimeout(timer); waiter = undefined; resolve(b); },
              reject: (e) => { clearTimeout(timer); waiter = undefined; reject(e); },
            };
            call.write({ challenge: Buffer.from(c) });
          });
          attestAgent(attestation, { method: p.method, payload: p.payload, csr: p.csr }, { challenge, signal: ac.signal })
            .then((out) => {
              obs.attestation(methodLabel, 'ok');
              obs.svidIssued('agent', 'ok');
              if (ended) return;
              call.write({
                result: {
                  spiffe_id: out.agentId.toString(), svid_chain: out.chain.map((c) => Buffer.from(c)),
                  bundle: toWireBundle(d.ca.bundle()), selectors: out.selectors.map(toWireSelector),
                },
              });
              ended = true;
              release();
              call.end();
            }, async (e: unknown) => {
              // Anything may be thrown here (a method can reject with a non-Error): read it defensively.
              const code = typeof (e as { code?: unknown } | null)?.code === 'string' ? (e as { code: string }).code : 'unknown';
              const message = e instanceof Error ? e.message : String(e);
              log.warn('attestation failed', { err: e instanceof Error ? e : new Error(message), method: clip(p.method, 64) });
              obs.attestation(methodLabel, outcomeOf(e));
              // Bounded: unauthenticated peers can cause these rows at will.
              await d.store.appendAudit({
                time: Math.floor(d.clock.now() / 1000), event: 'agent.attestation_failed', subject: clip(p.method, 64),
                data: { code: clip(code, 64), message: clip(message, 512), evidence_sha256: createHash('sha256').update(p.payload).digest('hex') },
              }).catch(() => undefined);
              fail(e);
            })
            // Last resort: an unhandled rejection would end the whole server process.
            .catch((e: unknown) => { log.error('attestation stream handler failed', { err: e as Error }); fail(e); });
          return;
        }
        if (msg.step !== 'challenge_response') {
          fail(invalidArgument('ERR_ATTEST_UNEXPECTED', 'only challenge_response messages may follow params'));
          return;
        }
        // Answers are only taken for a challenge that is outstanding: one per challenge, in order.
        if (!waiter) {
          fail(invalidArgument('ERR_ATTEST_UNEXPECTED', 'challenge_response sent without an outstanding challenge'));
          return;
        }
        const answer = msg.challenge_response ?? new Uint8Array();
        if (answer.length > ATTEST_LIMITS.challengeResponseBytes) {
          fail(invalidArgument('ERR_ATTEST_TOO_LARGE', `challenge_response is ${answer.length} bytes; at most ${ATTEST_LIMITS.challengeResponseBytes} are accepted`));
          return;
        }
        waiter.resolve(answer);
      });
    },

    RenewAgent: unary('RenewAgent', issuing('agent', async (call) => {
      const peer = await d.authn.authenticate(call);
      const { spki, uriSans } = SvidSigner.readCsr(call.request.csr, 'csr');
      if (uriSans.length > 0 && (uriSans.length !== 1 || uriSans[0] !== peer.id.toString())) {
        throw permissionDenied('ERR_CSR_ID_MISMATCH', `csr URI SAN ${clip(uriSans.join(', '))} is not the caller's ID ${peer.id}`);
      }
      const agentId = peer.id.toString();
      // Re-read and re-check under the per-agent lock: in this process, an eviction, ban or
      // re-attestation since authenticate() then refuses before anything is signed.
      return d.authn.exclusive(agentId, async () => {
        const agent = await d.store.getAgent(agentId);
        d.authn.checkRecord(peer.id, peer.serial, agent);
        const svid = d.signer.signX509({ spiffeId: peer.id, publicKey: spki, ttlSeconds: d.agentSvidTtlSeconds });
        const now = Math.floor(d.clock.now() / 1000);
        // The lock is this process's only: a ban, eviction or renewal committed through another
        // server since the read is caught by the write's condition, and the SVID signed is dropped.
        const out = await d.store.renewAgent(agentId, {
          expectSerial: agent.serial, serial: svid.serial, expiresAt: Math.floor(svid.notAfter / 1000), updatedAt: now,
        });
        if (!out.ok) renewalRefused(d, peer, agent.serial, out);
        await d.store.appendAudit({ time: now, event: 'agent.renewed', subject: agentId, data: { serial: svid.serial, previous: agent.serial } });
        return { svid_chain: svid.chain.map((c) => Buffer.from(c)) };
      });
    })),

    SyncEntries(call) {
      d.authn.authenticate(call).then((peer) => {
        const agentId = peer.id.toString();
        // A peer that hung up while we authenticated has nothing to serve (and 'cancelled' already fired).
        if (call.cancelled) return;
        const open = syncStreams.get(agentId) ?? 0;
        if (open >= limits.syncPerAgent) {
          throw resourceExhausted('ERR_SYNC_STREAMS', `agent ${agentId} already has ${open} entry sync streams open (at most ${limits.syncPerAgent})`);
        }
        syncStreams.set(agentId, open + 1);
        const closedGauge = obs.syncStreamOpened();
        const released = () => {
          closedGauge();
          const n = (syncStreams.get(agentId) ?? 1) - 1;
          if (n > 0) syncStreams.set(agentId, n); else syncStreams.delete(agentId);
        };
        return serveSync(call, peer, {
          view: d.view, store: d.store, ca: d.ca, authn: d.authn, logger: log, clock: d.clock, onClose: released, onPush: (seq) => obs.pushed(seq),
          foreign: d.foreignBundles,
        });
      }).catch((e) => { log.info('SyncEntries rejected', { err: e }); call.emit('error', toGrpcError(e)); });
    },

    BatchSignX509SVID: unary('BatchSignX509SVID', async (call) => {
      // The agent record is read after signing, not before: a ban or eviction that commits
      // while the CSRs are being signed then refuses the whole call, and what was signed is
      // neither returned nor recorded (test/faults/ban-race.test.ts). TLS is checked first.
      const claimed = d.authn.verifyPeerNotBanned(call);
      if (call.request.params.length > MAX_BATCH) {
        throw resourceExhausted('ERR_BATCH_TOO_LARGE', `${call.request.params.length} SVIDs requested in one call; at most ${MAX_BATCH}`);
      }
      // Items are independent: check each, then sign them concurrently (threadpool).
      const signed = await Promise.all(call.request.params.map(async (p) => {
        try {
          const e = authorizedEntry(claimed.id.toString(), p.entry_id);
          const claims = claimsFor(e, p.instance_id);
          // Only the key is taken from the CSR: the SANs, basicConstraints and key usage come from
          // the entry and the fixed SVID profile, whatever else the CSR asks for. A CSR URI SAN other
          // than the entry's ID is refused before signing (on the signing pool's threads when set).
          const svid = await d.signer.signCsr({
            spiffeId: e.spiffeId, csr: p.csr, field: 'params.csr', expectUriSan: e.spiffeId.toString(), expectedAs: `entry ${e.id}'s SPIFFE ID`,
            ttlSeconds: e.x509SvidTtl || d.x509SvidTtlSeconds, dnsNames: e.dnsNames, claims,
          });
          return { p, ok: { e, claims, svid } };
        } catch (err) {
          return { p, err };
        }
      }));
      const signedAt = d.clock.now();
      const peer = await d.authn.authenticate(call);
      const results: X509SVIDResult[] = await Promise.all(signed.map(async ({ p, ok, err }): Promise<X509SVIDResult> => {
        try {
          if (!ok) throw err;
          const { e, claims, svid } = ok;
          // Queued, not awaited to commit: no round trip on the issuance path (server/audit/batcher.ts).
          await d.audit?.record({
            type: 'x509svid.issued', time: signedAt, actor: peer.id.toString(), instance: p.instance_id || undefined,
            resource: e.spiffeId.toString(), action: 'issue', decision: 'allow',
            detail: { serial: svid.serial, entry_id: e.id, ttl: e.x509SvidTtl || d.x509SvidTtlSeconds, not_after: Math.floor(svid.notAfter / 1000), claims },
          });
          obs.svidIssued('x509', 'ok');
          return { status: OK_STATUS, entry_id: e.id, cert_chain: svid.chain.map((c) => Buffer.from(c)), expires_at: Math.floor(svid.notAfter / 1000) };
        } catch (err) {
          obs.svidIssued('x509', outcomeOf(err));
          return { status: errorToStatus(err), entry_id: clip(p.entry_id, 128), cert_chain: [], expires_at: 0 };
        }
      }));
      return { results };
    }),

    MintJWTSVID: unary('MintJWTSVID', issuing('jwt', async (call) => {
      // As in BatchSignX509SVID: the agent record is read after minting, so a ban committed meanwhile wins.
      const claimed = d.authn.verifyPeerNotBanned(call);
      const r = call.request;
      const e = authorizedEntry(claimed.id.toString(), r.entry_id);
      const audience = r.audience.filter((a) => a.length > 0);
      if (audience.length === 0) throw invalidArgument('ERR_AUDIENCE_REQUIRED', 'audience is required (at least one value)');
      if (audience.length > MAX_AUDIENCES) throw invalidArgument('ERR_AUDIENCE', `audience has ${audience.length} values; at most ${MAX_AUDIENCES}`);
      for (const a of audience) {
        if (a.length > MAX_AUDIENCE_CHARS || CONTROL.test(a)) {
          throw invalidArgument('ERR_AUDIENCE', `audience "${clip(a, 64)}" must be at most ${MAX_AUDIENCE_CHARS} characters without control characters`);
        }
      }
      const claims = claimsFor(e, r.instance_id);
      const { token, expiresAt } = await d.signer.mintJwt({
        spiffeId: e.spiffeId, audience, ttlSeconds: e.jwtSvidTtl || d.jwtSvidTtlSeconds, claims,
      });
      const mintedAt = d.clock.now();
      const peer = await d.authn.authenticate(call);
      // JWT-SVIDs carry no jti: the token's SHA-256 identifies it.
      await d.audit?.record({
        type: 'jwtsvid.issued', time: mintedAt, actor: peer.id.toString(), instance: r.instance_id || undefined,
        resource: e.spiffeId.toString(), action: 'issue', decision: 'allow',
        detail: {
          token_sha256: createHash('sha256').update(token).digest('hex'), entry_id: e.id, audience,
          ttl: e.jwtSvidTtl || d.jwtSvidTtlSeconds, expires_at: expiresAt, claims,
        },
      });
      return { token, expires_at: expiresAt };
    })),

    MintWITSVID: unary('MintWITSVID', issuing('wit', mintWitSvidHandler({
      authn: d.authn, issuer: new WitIssuer(d.ca, d.clock), clock: d.clock, audit: d.audit, ttlSeconds: d.witSvidTtlSeconds, authorizedEntry, claimsFor,
    }))),

    GetBundle: unary('GetBundle', async (call) => {
      await d.authn.authenticate(call);
      return toWireBundle(d.ca.bundle());
    }),

    RecordAction: unary('RecordAction', recordActionHandler({ authn: d.authn, view: d.view, ca: d.ca, store: d.store, audit: d.audit, clock: d.clock })),
  };
}

/**
 * Throws for a renewal whose conditional write found the record changed since it was
 * read: the record as the write found it is judged by the authentication rules, so a
 * ban or eviction gets the refusal it gets at authentication. A record those rules
 * still accept means another renewal with this same SVID committed first (a retry sent
 * to another server): the agent may retry, so not permission_denied, which agents take
 * as final.
 */
function renewalRefused(
  d: Pick<AgentServiceDeps, 'authn'>, peer: { id: SpiffeId; serial: string }, readSerial: string,
  out: Exclude<RenewOutcome, { ok: true }>,
): never {
  d.authn.checkRecord(peer.id, peer.serial, out.reason === 'evicted' ? undefined : out.agent);
  const now = out.reason === 'evicted' ? '' : out.agent.serial;
  throw failedPrecondition('ERR_AGENT_RENEWAL_CONFLICT',
    `agent ${peer.id}: another renewal replaced serial ${readSerial} with ${now} while this one was signed; retry the renewal`);
}
