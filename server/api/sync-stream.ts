import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/logger.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { Datastore } from '../datastore/types.ts';
import { toWireBundle, toWireEntry } from '../entries/wire.ts';
import type { SyncEntriesResponse } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import type { AgentAuthenticator, AuthenticatedAgent } from './authn.ts';
import type { EntryView } from './entry-view.ts';

/**
 * One agent's authorized-entry stream: the full set (and the bundle) on connect,
 * then each change to that agent's set as soon as the index applied it (pushed from
 * the index's watch, no polling), the bundle whenever it changes, and
 * PermissionDenied when the agent is evicted or banned, which ends the stream.
 */
export async function serveSync(
  call: grpc.ServerWritableStream<unknown, SyncEntriesResponse>,
  peer: AuthenticatedAgent,
  d: { view: EntryView; store: Datastore; authn: AgentAuthenticator; trustDomain: TrustDomain; logger: Logger },
): Promise<void> {
  const agentId = peer.id.toString();
  const td = d.trustDomain.name;
  let closed = false;
  let unwatch = () => {};
  let unsubscribe = () => {};
  // Bundle and agent checks are async: run them one at a time, in order.
  let queue = Promise.resolve();
  const close = (err?: unknown) => {
    if (closed) return;
    closed = true;
    unwatch();
    unsubscribe();
    if (err) call.emit('error', toGrpcError(err));
    else call.end();
  };
  const later = (fn: () => Promise<void>) => {
    queue = queue.then(fn).catch((e) => { d.logger.error('sync stream update failed', { err: e, agent: agentId }); close(e); });
  };
  call.on('cancelled', () => close());

  let bundleSeq = -1;
  const first = await d.store.getBundle(td);
  if (closed) return;
  unwatch = d.view.watch(agentId, (c) => {
    if (closed) return;
    call.write({ full: false, upserted: c.upserted.map(toWireEntry), deleted_ids: c.deletedIds, sequence: c.sequence });
  });
  unsubscribe = d.store.subscribe((ev) => {
    if (closed) return;
    if (ev.kind === 'bundle' && ev.id === td) {
      later(async () => {
        const b = await d.store.getBundle(td);
        if (closed || !b || b.sequence === bundleSeq) return;
        bundleSeq = b.sequence;
        call.write({ full: false, upserted: [], deleted_ids: [], sequence: d.view.sequence, bundle: toWireBundle(b) });
      });
    } else if ((ev.kind === 'agent_upsert' || ev.kind === 'agent_delete') && ev.id === agentId) {
      later(async () => {
        const agent = await d.store.getAgent(agentId);
        // Only existence and the ban are re-checked: the SVID this stream was opened
        // with may since have been renewed, which is fine.
        if (!agent || agent.banned) d.authn.checkRecord(peer.id, peer.serial, agent);
      });
    }
  });
  const msg: SyncEntriesResponse = {
    full: true, upserted: d.view.authorizedEntries(agentId).map(toWireEntry), deleted_ids: [], sequence: d.view.sequence,
  };
  if (first) { bundleSeq = first.sequence; msg.bundle = toWireBundle(first); }
  call.write(msg);
}
