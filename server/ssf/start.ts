import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { CaManager } from '../ca/manager.ts';
import { x509AuthorityId } from '../ca/local-authority.ts';
import type { Datastore } from '../datastore/types.ts';
import type { RevocationIndex } from '../delegation/revocations.ts';
import type { OAuthKeyManager } from '../oauth/keys.ts';
import type { Route } from '../oauth/listener.ts';
import type { DelegationCore } from '../oauth/ports.ts';
import { agentEvent, revocationEvent, taintEvent } from './events.ts';
import { SsfPusher } from './push.ts';
import { ssfRoutes, type SsfRouteDeps } from './routes.ts';
import { SsfTransmitter } from './transmitter.ts';

/** A long poll with an empty queue answers after this long at most (RFC 8936 leaves it to the transmitter). */
export const LONG_POLL_MS = 25_000;

/**
 * The Shared Signals transmitter of one server (docs/shared-signals.md). Its routes are
 * mounted on the OAuth listener when it starts; `start` follows the sources once the
 * authorization server has its issuer and signing keys:
 *   - the revocation index (every record, whichever server wrote it) → session-revoked;
 *   - the change feed: an agent banned (agent_upsert with banned) or evicted
 *     (agent_delete) → credential-change; on PostgreSQL every server hears every change
 *     and the queue keeps one SET per stream and change;
 *   - this server's CA: an authority tainted → credential-change.
 */
export class SharedSignals {
  private deps: SsfRouteDeps | undefined;
  private readonly stops: (() => void)[] = [];

  routes(): Route[] {
    return ssfRoutes(() => {
      if (!this.deps) throw new Error('not started');
      return this.deps;
    });
  }

  /** Resolves when `signal` aborts and the push loop has stopped. */
  start(o: {
    issuer: string; keys: OAuthKeyManager; core: DelegationCore & { index: RevocationIndex }; store: Datastore; ca: CaManager;
    clock: Clock; logger: Logger; cacheSeconds: number; signal: AbortSignal; longPollMs?: number;
  }): Promise<void> {
    const logger = o.logger.child({ component: 'ssf' });
    const transmitter = new SsfTransmitter({ store: o.store, issuer: o.issuer, keys: o.keys, clock: o.clock, logger, signal: o.signal });
    const pusher = new SsfPusher({ store: o.store, clock: o.clock, logger });
    this.stops.push(transmitter.onQueued(() => pusher.wake()));
    const td = o.ca.trustDomain.name;
    const emit = (ev: Parameters<SsfTransmitter['emit']>[0]) => {
      transmitter.emit(ev).catch((err: unknown) => { if (!o.signal.aborted) logger.error('shared signal lost', { err: err as Error, src: ev.src }); });
    };
    this.stops.push(o.core.index.subscribe((r) => emit(revocationEvent(r, o.issuer))));
    this.stops.push(o.store.subscribe((ev) => {
      if (ev.kind === 'agent_delete') { emit(agentEvent(ev.seq, ev.id, 'delete', Math.floor(o.clock.now() / 1000))); return; }
      if (ev.kind !== 'agent_upsert') return;
      void o.store.getAgent(ev.id).then((a) => {
        if (a?.banned) emit(agentEvent(ev.seq, ev.id, 'revoke', a.updatedAt || Math.floor(o.clock.now() / 1000)));
      }, (err: unknown) => logger.warn('could not read an agent for shared signals', { err: err as Error, agent: ev.id }));
    }));
    this.stops.push(o.ca.onChange((ev) => {
      if (ev !== 'taint') return;
      const at = Math.floor(o.clock.now() / 1000);
      for (const s of o.ca.taintedSlots('x509')) emit(taintEvent(td, 'x509', x509AuthorityId(s), s.certificate, at));
      for (const s of o.ca.taintedSlots('jwt')) emit(taintEvent(td, 'jwt', s.jwtKey.kid, undefined, at));
    }));
    this.deps = {
      issuer: o.issuer, trustDomain: td, keys: o.keys, core: o.core, clock: o.clock, transmitter, pusher, store: o.store, logger,
      cacheSeconds: o.cacheSeconds, longPollMs: o.longPollMs ?? LONG_POLL_MS,
    };
    o.signal.addEventListener('abort', () => { for (const s of this.stops.splice(0)) s(); }, { once: true });
    logger.info('shared signals transmitter started', { issuer: o.issuer });
    return pusher.run(o.signal);
  }
}
