import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { invalidArgument, permissionDenied, TesseraError } from '../../common/errors.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import { cleanAgentClaims } from '../../spiffe/agent-claims.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { Datastore, RegistrationEntry } from '../datastore/types.ts';
import type { CaManager } from '../ca/manager.ts';
import { SvidSigner } from '../ca/signer.ts';
import { attestAgent, type AttestationDeps } from '../attestation/orchestrator.ts';
import type { AgentServiceHandlers } from '../../proto/gen/tessera-api/tessera/v1/AgentService.ts';
import type { AttestRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/AttestRequest.ts';
import type { X509SVIDResult } from '../../proto/gen/tessera-api/tessera/v1/X509SVIDResult.ts';
import type { AgentAuthenticator } from './authn.ts';
import type { EntryView } from './entry-view.ts';
import { serveSync } from './sync-stream.ts';
import { unary as unaryHandler } from './unary.ts';
import { errorToStatus, OK_STATUS } from './wire.ts';
import { toWireBundle, toWireSelector } from '../entries/wire.ts';

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
  agentSvidTtlSeconds: number;
  /** How long Attest waits for each challenge response. */
  challengeTimeoutMs?: number;
}

const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function agentServiceHandlers(d: AgentServiceDeps): AgentServiceHandlers {
  const log = d.logger.child({ component: 'agent-api' });

  const unary = <Req, Res>(name: string, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>) => unaryHandler(log, name, fn);

  const authorizedEntry = (agentId: string, entryId: string): RegistrationEntry => {
    const e = d.view.isAuthorized(agentId, entryId);
    if (!e) throw permissionDenied('ERR_ENTRY_NOT_AUTHORIZED', `entry "${entryId}" is not in the authorized set of agent ${agentId}`);
    return e;
  };

  const claimsFor = (e: RegistrationEntry, instanceId: string) => {
    if (instanceId && !INSTANCE_ID.test(instanceId)) {
      throw invalidArgument('ERR_INSTANCE_ID', `instance_id "${instanceId}" must be 1-64 characters of [A-Za-z0-9_-]`);
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
      const fail = (e: unknown) => {
        if (ended) return;
        ended = true;
        ac.abort();
        call.emit('error', toGrpcError(e));
      };
      const streamEnded = () => invalidArgument('ERR_ATTEST_STREAM_ENDED', 'attestation stream ended before the challenge was answered');
      call.on('cancelled', () => { ended = true; ac.abort(); waiter?.reject(streamEnded()); });
      call.on('end', () => { waiter?.reject(streamEnded()); });
      call.on('data', (msg: AttestRequest__Output) => {
        if (!started) {
          started = true;
          if (msg.step !== 'params' || !msg.params) {
            fail(invalidArgument('ERR_ATTEST_NO_PARAMS', 'the first attestation message must be params'));
            return;
          }
          const p = msg.params;
          const challenge = (c: Uint8Array) => new Promise<Uint8Array>((resolve, reject) => {
            if (ended) return reject(streamEnded());
            const timer = setTimeout(() => reject(new TesseraError('deadline_exceeded', 'ERR_ATTEST_CHALLENGE_TIMEOUT',
              'no challenge response within the deadline')), d.challengeTimeoutMs ?? 60_000);
            waiter = {
              resolve: (b) => { clearTimeout(timer); waiter = undefined; resolve(b); },
              reject: (e) => { clearTimeout(timer); waiter = undefined; reject(e); },
            };
            call.write({ challenge: Buffer.from(c) });
          });
          attestAgent(d.attestation, { method: p.method, payload: p.payload, csr: p.csr }, { challenge, signal: ac.signal })
            .then(async (out) => {
              if (ended) return;
              call.write({
                result: {
                  spiffe_id: out.agentId.toString(), svid_chain: out.chain.map((c) => Buffer.from(c)),
                  bundle: toWireBundle(d.ca.bundle()), selectors: out.selectors.map(toWireSelector),
                },
              });
              ended = true;
              call.end();
            }, async (e) => {
              log.warn('attestation failed', { err: e, method: p.method });
              await d.store.appendAudit({
                time: Math.floor(d.clock.now() / 1000), event: 'agent.attestation_failed', subject: p.method,
                data: { code: (e as { code?: unknown }).code ?? 'unknown', message: (e as Error).message },
              }).catch(() => undefined);
              fail(e);
            });
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
        waiter.resolve(msg.challenge_response ?? new Uint8Array());
      });
    },

    RenewAgent: unary('RenewAgent', async (call) => {
      const peer = await d.authn.authenticate(call);
      const { publicKey, uriSans } = SvidSigner.readCsr(call.request.csr, 'csr');
      if (uriSans.length > 0 && (uriSans.length !== 1 || uriSans[0] !== peer.id.toString())) {
        throw permissionDenied('ERR_CSR_ID_MISMATCH', `csr URI SAN ${uriSans.join(', ')} is not the caller's ID ${peer.id}`);
      }
      const svid = d.signer.signX509({ spiffeId: peer.id, publicKey, ttlSeconds: d.agentSvidTtlSeconds });
      const now = Math.floor(d.clock.now() / 1000);
      await d.store.upsertAgent({ ...peer.agent, serial: svid.serial, expiresAt: Math.floor(svid.notAfter / 1000), updatedAt: now });
      d.authn.noteRenewal(peer.id.toString(), peer.agent.serial);
      await d.store.appendAudit({ time: now, event: 'agent.renewed', subject: peer.id.toString(), data: { serial: svid.serial, previous: peer.agent.serial } });
      return { svid_chain: svid.chain.map((c) => Buffer.from(c)) };
    }),

    SyncEntries(call) {
      d.authn.authenticate(call).then(
        (peer) => serveSync(call, peer, { view: d.view, store: d.store, authn: d.authn, trustDomain: d.trustDomain, logger: log }),
      ).catch((e) => { log.info('SyncEntries rejected', { err: e }); call.emit('error', toGrpcError(e)); });
    },

    BatchSignX509SVID: unary('BatchSignX509SVID', async (call) => {
      const peer = await d.authn.authenticate(call);
      // Items are independent: check each, then sign them concurrently (threadpool).
      const results: X509SVIDResult[] = await Promise.all(call.request.params.map(async (p): Promise<X509SVIDResult> => {
        try {
          const e = authorizedEntry(peer.id.toString(), p.entry_id);
          const claims = claimsFor(e, p.instance_id);
          const { spki, uriSans } = await SvidSigner.readCsrAsync(p.csr, 'params.csr');
          if (uriSans.length > 0 && (uriSans.length !== 1 || uriSans[0] !== e.spiffeId.toString())) {
            throw permissionDenied('ERR_CSR_ID_MISMATCH', `csr URI SAN ${uriSans.join(', ')} is not entry ${e.id}'s SPIFFE ID ${e.spiffeId}`);
          }
          const svid = await d.signer.signX509Async({
            spiffeId: e.spiffeId, publicKey: spki, ttlSeconds: e.x509SvidTtl || d.x509SvidTtlSeconds, dnsNames: e.dnsNames, claims,
          });
          return { status: OK_STATUS, entry_id: e.id, cert_chain: svid.chain.map((c) => Buffer.from(c)), expires_at: Math.floor(svid.notAfter / 1000) };
        } catch (err) {
          return { status: errorToStatus(err), entry_id: p.entry_id, cert_chain: [], expires_at: 0 };
        }
      }));
      return { results };
    }),

    MintJWTSVID: unary('MintJWTSVID', async (call) => {
      const peer = await d.authn.authenticate(call);
      const r = call.request;
      const e = authorizedEntry(peer.id.toString(), r.entry_id);
      const audience = r.audience.filter((a) => a.length > 0);
      if (audience.length === 0) throw invalidArgument('ERR_AUDIENCE_REQUIRED', 'audience is required (at least one value)');
      const { token, expiresAt } = await d.signer.mintJwt({
        spiffeId: e.spiffeId, audience, ttlSeconds: e.jwtSvidTtl || d.jwtSvidTtlSeconds, claims: claimsFor(e, r.instance_id),
      });
      return { token, expires_at: expiresAt };
    }),

    GetBundle: unary('GetBundle', async (call) => {
      await d.authn.authenticate(call);
      return toWireBundle(d.ca.bundle());
    }),
  };
}
