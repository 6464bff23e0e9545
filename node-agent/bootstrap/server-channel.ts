import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/logger.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import { watchChannel, type ChannelEvent, type WatchedChannel } from './channel-state.ts';

/**
 * The agent's gRPC client to "the server", which may be one of several (HA servers on
 * one store). One client at a time, to one address; it is replaced when credentials
 * change (replace()) or when a connection attempt to its server fails (the next
 * address takes over; the agent SVID is the same, so nothing is re-attested).
 *
 * While the server is unreachable the channel keeps trying to connect by itself
 * (grpc-js reconnect backoff), so "connection restored" is known as soon as a server
 * answers, not only at the next call. After a full round of failed servers, further
 * failovers wait on a backoff, so servers that are all down are never polled in a
 * tight loop. One warning when the connection goes, one line when it is back.
 */
export interface ServerChannelOptions<C extends grpc.Client> {
  /** host:port of each server, in the order they are tried. */
  addresses: readonly string[];
  make(address: string): C;
  logger: Logger;
  /** Pacing of failovers after a full round of unreachable servers. */
  backoff?: Backoff;
}

export class ServerChannel<C extends grpc.Client> {
  private clientValue: C;
  private stopWatch: () => void = () => undefined;
  private readonly servers: string[];
  private current = 0;
  /** When the connection was lost (ms), while it is. */
  private lostAt: number | undefined;
  /** Failovers since a connection last came up. */
  private failovers = 0;
  private failoverTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private readonly listeners = new Set<(up: boolean) => void>();
  private closed = false;

  constructor(private readonly o: ServerChannelOptions<C>) {
    this.servers = [...new Set(o.addresses)];
    this.backoff = o.backoff ?? new Backoff({ initialMs: 200, maxMs: 5_000 });
    this.clientValue = this.open();
  }

  get client(): C { return this.clientValue; }
  get address(): string { return this.servers[this.current]!; }

  /** A new client to the same server (new credentials); the old one is closed once its calls end. */
  replace(): void {
    if (this.closed) return;
    const old = this.clientValue;
    this.stopWatch();
    this.clientValue = this.open();
    old.close();
  }

  /** Moves to the next server (a no-op with one). Calls on the old client fail by themselves. */
  failover(why: string): void {
    if (this.closed || this.servers.length < 2) return;
    clearTimeout(this.failoverTimer);
    this.failoverTimer = undefined;
    const from = this.address;
    this.current = (this.current + 1) % this.servers.length;
    const level = this.failovers++ < this.servers.length ? 'warn' : 'debug';
    this.o.logger[level]('server unreachable; failing over to the next server', { server: from, next: this.address, reason: why });
    this.replace();
  }

  /** Fires when the connection is lost (false) and when one is up again (true). */
  onConnectionChange(l: (up: boolean) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.failoverTimer);
    this.stopWatch();
    this.clientValue.close();
    this.listeners.clear();
  }

  private open(): C {
    const client = this.o.make(this.address);
    const channel = client.getChannel();
    const address = this.address;
    this.stopWatch = watchChannel(channel, (e) => this.onEvent(channel, address, e));
    if (this.lostAt !== undefined) channel.getConnectivityState(true); // keep trying during an outage
    return client;
  }

  private onEvent(channel: WatchedChannel, address: string, e: ChannelEvent): void {
    if (this.closed) return;
    if (e === 'ready') {
      this.failovers = 0;
      this.backoff.reset();
      clearTimeout(this.failoverTimer);
      this.failoverTimer = undefined;
      if (this.lostAt === undefined) return;
      this.o.logger.info('server connection restored', { server: address, unreachable_ms: Date.now() - this.lostAt });
      this.lostAt = undefined;
      for (const l of this.listeners) l(true);
      return;
    }
    if (e === 'idle') {
      if (this.lostAt !== undefined) channel.getConnectivityState(true);
      return;
    }
    if (this.lostAt === undefined) {
      this.lostAt = Date.now();
      this.o.logger.warn(e === 'lost' ? 'server connection lost' : 'cannot connect to the server', {
        server: address, ...(this.servers.length > 1 ? { servers: this.servers } : {}),
      });
      for (const l of this.listeners) l(false);
    }
    if (e === 'lost') channel.getConnectivityState(true);
    if (e !== 'connect-failed' || this.servers.length < 2 || this.failoverTimer) return;
    if (this.failovers < this.servers.length) this.failover('connection attempt failed');
    else this.failoverTimer = setTimeout(() => this.failover('connection attempts failed'), this.backoff.next());
  }
}
