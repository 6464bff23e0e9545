import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { permissionDenied, TesseraError } from '../../common/errors.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { CaManager } from '../ca/manager.ts';
import type { ChangeEvent, Datastore } from '../datastore/types.ts';
import { toWireBundle, toWireEntry } from '../entries/wire.ts';
import { withTaint } from '../ca/local-authority.ts';
import type { SyncEntriesResponse } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import type { AgentAuthenticator, AuthenticatedAgent } from './authn.ts';
import type { EntryView } from './entry-view.ts';
import { FederatedBundlePush, type FederatedBundleSource } from '../federation/agent-push.ts';

/**
 * One agent's authorized-entry stream: the full set (and the bundle) on connect,
 * then each change to that agent's set as soon as the index applied it (pushed from
 * the index's watch, no polling), the bundle whenever it changes (from the CA
 * manager, which already follows the stored bundle: no datastore read per stream), and
 * PermissionDenied when the agent is evicted or banned, which ends the stream.
 */
export async function serveSync(
  call: grpc.ServerWritableStream<unknown, SyncEntriesResponse>,
  peer: AuthenticatedAgent,
  d: {
    view: EntryView; store: Pick<Datastore, 'getAgent' | 'subscribe'>; ca: Pick<CaManager, 'bundle' | 'onChange' | 'taintedSlots'>; authn: AgentAuthenticator;
    logger: Logger; clock: Clock; onClose?: () => void;
    /** Told the datastore sequence of each change written (metrics: push lag). */
    onPush?: (sequence: number) => void;
    /** Foreign bundles (docs/federation.md): pushed for the trust domains the agent's entries federate with. */
    foreign?: FederatedBundleSource;
  },
): Promise<void> {
  const agentId = peer.id.toString();
  let closed = false;
  let unwatch = () => {};
  let unsubscribe = () => {};
  let unfollowBundle = () => {};
  let unfollowFederated = () => {};
  // Agent record checks are async: run them one at a time, in order.
  let queue = Promise.resolve();
  const expiry = new AbortController();
  const close = (err?: unknown) => {
    if (closed) return;
    closed = true;
    expiry.abort();
    unwatch();
    unsubscribe();
    unfollowBundle();
    unfollowFederated();
    d.onClose?.();
    if (err) call.emit('error', toGrpcError(err));
    else call.end();
  };
  const later = (fn: () => Promise<void>) => {
    queue = queue.then(fn).catch((e) => {
      if (e instanceof TesseraError) d.logger.info('sync stream closed', { err: e, agent: agentId });
      else d.logger.error('sync stream update failed', { err: e, agent: agentId });
      close(e);
    });
  };
  call.on('cancelled', () => close());
  // The stream is authorized by the SVID it was opened with; it must not outlive it.
  // (The agent reconnects after every renewal anyway.)
  d.clock.sleep(Math.max(0, peer.notAfter - d.clock.now()), expiry.signal).then(
    () => close(permissionDenied('ERR_AGENT_SVID_EXPIRED', `the agent X.509-SVID this stream was opened with expired; reconnect with the renewed SVID`)),
    () => undefined,
  );

  try {
    open();
  } catch (e) {
    close(e);
  }

  function open(): void {
    const first = d.ca.bundle();
    let bundleSeq = first.sequence;
    const federated = d.foreign ? new FederatedBundlePush(d.foreign, () => d.view.authorizedEntries(agentId)) : undefined;
    unwatch = d.view.watch(agentId, (c) => {
      if (closed) return;
      call.write({ full: false, upserted: c.upserted.map(toWireEntry), deleted_ids: c.deletedIds, sequence: c.sequence, federated_bundles: federated?.afterEntries(c.upserted) });
      d.onPush?.(c.sequence);
    });
    unfollowBundle = d.ca.onChange((ev) => {
      if (closed || (ev !== 'bundle' && ev !== 'taint')) return;
      const b = d.ca.bundle();
      // A taint changes no stored bundle (same sequence) but must reach the agent at once.
      if (b.sequence === bundleSeq && ev !== 'taint') return;
      bundleSeq = b.sequence;
      call.write({ full: false, upserted: [], deleted_ids: [], sequence: d.view.sequence, bundle: withTaint(toWireBundle(b), d.ca) });
    });
    unfollowFederated = federated?.follow((set) => {
      if (!closed) call.write({ full: false, upserted: [], deleted_ids: [], sequence: d.view.sequence, federated_bundles: set });
    }) ?? (() => {});
    unsubscribe = agentEvents(d.store).on(agentId, (ev) => {
      if (closed) return;
      if (ev.kind === 'agent_delete') {
        // Evicted: close now, without re-reading (a re-attestation racing the read must not keep this stream).
        close(permissionDenied('ERR_AGENT_NOT_ATTESTED', `agent ${agentId} is not attested (it was evicted); attest again`));
      } else if (ev.kind === 'agent_upsert') {
        later(async () => {
          // The full record rules: banned, or the stream's SVID superseded (a re-attestation,
          // or a second renewal since it opened: the agent reconnects after each renewal).
          d.authn.checkRecord(peer.id, peer.serial, await d.store.getAgent(agentId));
        });
      }
    });
    call.write({
      full: true, upserted: d.view.authorizedEntries(agentId).map(toWireEntry), deleted_ids: [], sequence: d.view.sequence,
      bundle: withTaint(toWireBundle(first), d.ca), federated_bundles: federated?.initial(),
    });
    // The record may have changed between authentication and the subscription above.
    later(async () => { d.authn.checkRecord(peer.id, peer.serial, await d.store.getAgent(agentId)); });
  }
}

/**
 * The store's agent change events, dispatched by agent ID: one store subscription for
 * all sync streams instead of one each, so a change costs O(1) rather than a call per
 * open stream (10k streams: 10k closures and a 10k-element copy per event, entry
 * writes included).
 */
class AgentEvents {
  private readonly byAgent = new Map<string, Set<(ev: ChangeEvent) => void>>();
  private unsubscribe: (() => void) | undefined;
  constructor(private readonly store: Pick<Datastore, 'subscribe'>) {}

  on(agentId: string, fn: (ev: ChangeEvent) => void): () => void {
    if (!this.unsubscribe) this.unsubscribe = this.store.subscribe((ev) => this.dispatch(ev));
    let set = this.byAgent.get(agentId);
    if (!set) { set = new Set(); this.byAgent.set(agentId, set); }
    const own = (ev: ChangeEvent) => fn(ev);
    set.add(own);
    return () => {
      const s = this.byAgent.get(agentId);
      if (!s?.delete(own) || s.size) return;
      this.byAgent.delete(agentId);
      // The last stream gone: release the store subscription (a closed store keeps none).
      if (this.byAgent.size === 0) { this.unsubscribe?.(); this.unsubscribe = undefined; }
    };
  }

  private dispatch(ev: ChangeEvent): void {
    if (ev.kind !== 'agent_upsert' && ev.kind !== 'agent_delete') return;
    const set = this.byAgent.get(ev.id);
    if (!set) return;
    // One stream's failure must not keep the event from the others (as with separate subscriptions).
    let failed: unknown;
    for (const fn of [...set]) { try { fn(ev); } catch (e) { failed ??= e; } }
    if (failed !== undefined) throw failed;
  }
}

const agentEventsByStore = new WeakMap<object, AgentEvents>();
function agentEvents(store: Pick<Datastore, 'subscribe'>): AgentEvents {
  let a = agentEventsByStore.get(store);
  if (!a) { a = new AgentEvents(store); agentEventsByStore.set(store, a); }
  return a;
}
