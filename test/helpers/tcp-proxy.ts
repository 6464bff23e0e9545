import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Scope } from './server.ts';

/**
 * A TCP proxy on 127.0.0.1 for fault tests: put it between a client and a real service
 * (e.g. tessera-server and PostgreSQL) and switch what the network does at runtime.
 *
 *   const proxy = await startTcpProxy(t, { host: '127.0.0.1', port: 5432 });
 *   // connect the client to proxy.port ...
 *   proxy.set({ kind: 'stall' });   // ... requests now hang until the client's deadlines
 *   proxy.set({ kind: 'pass' });    // healed: what was held is delivered, traffic flows
 *
 * Modes (a switch applies to open connections and to new ones):
 *   pass               forward both ways
 *   drop               new connections are reset at once; open ones are reset too
 *   stall              accept, forward nothing: bytes (and closes) are held, as by a
 *                      partitioned network, and delivered when the mode allows again
 *   stall-then-reset   stall, then reset each connection `resetAfterMs` after it
 *                      stalled (a middlebox timing out a dead flow)
 *   slow               deliver each chunk `delayMs` after the previous one, in order
 */
export type ProxyMode =
  | { kind: 'pass' }
  | { kind: 'drop' }
  | { kind: 'stall' }
  | { kind: 'stall-then-reset'; resetAfterMs: number }
  | { kind: 'slow'; delayMs: number };

export interface TcpProxy {
  readonly port: number;
  readonly mode: ProxyMode;
  set(mode: ProxyMode): void;
  /** Connections accepted so far, and those still open. */
  readonly accepted: number;
  readonly open: number;
  close(): Promise<void>;
}

type Dir = 'up' | 'down';

/** One proxied connection: the accepted client socket and its upstream socket. */
class Pair {
  upstream: Socket | undefined;
  private upstreamReady = false;
  private held: Record<Dir, Buffer[]> = { up: [], down: [] };
  private ended: Record<Dir, boolean> = { up: false, down: false };
  private chain: Record<Dir, Promise<void>> = { up: Promise.resolve(), down: Promise.resolve() };
  private inChain: Record<Dir, number> = { up: 0, down: 0 };
  private resetTimer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(readonly client: Socket, private readonly proxy: { mode: ProxyMode; target: { host: string; port: number } }, private readonly onClose: () => void) {
    client.on('data', (d) => this.forward('up', d));
    client.on('end', () => this.end('up'));
    client.on('error', () => undefined);
    client.on('close', () => this.end('up'));
    this.applyMode();
  }

  private get stalled(): boolean {
    const k = this.proxy.mode.kind;
    return k === 'stall' || k === 'stall-then-reset';
  }

  private target(dir: Dir): Socket | undefined {
    return dir === 'up' ? (this.upstreamReady ? this.upstream : undefined) : this.client;
  }

  /** Called on accept and on every mode switch. */
  applyMode(): void {
    const m = this.proxy.mode;
    clearTimeout(this.resetTimer);
    if (m.kind === 'drop') { this.reset(); return; }
    if (m.kind === 'stall-then-reset') this.resetTimer = setTimeout(() => this.reset(), m.resetAfterMs);
    if (this.stalled) return;
    if (!this.upstream) this.openUpstream();
    this.flush();
  }

  private openUpstream(): void {
    const u = connect(this.proxy.target.port, this.proxy.target.host);
    this.upstream = u;
    u.on('connect', () => { this.upstreamReady = true; this.flush(); });
    u.on('data', (d) => this.forward('down', d));
    u.on('end', () => this.end('down'));
    u.on('error', () => undefined);
    u.on('close', () => this.end('down'));
  }

  private forward(dir: Dir, chunk: Buffer): void {
    const to = this.target(dir);
    if (this.stalled || !to || this.held[dir].length) { this.held[dir].push(chunk); return; }
    this.send(dir, to, chunk);
  }

  private send(dir: Dir, to: Socket, chunk: Buffer): void {
    const m = this.proxy.mode;
    if (m.kind !== 'slow' && this.inChain[dir] === 0) { to.write(chunk); return; }
    // Slow, or chunks still queued from a slow spell: keep the order.
    const delay = m.kind === 'slow' ? m.delayMs : 0;
    this.inChain[dir]++;
    this.chain[dir] = this.chain[dir].then(() => new Promise<void>((r) => setTimeout(r, delay))).then(() => {
      this.inChain[dir]--;
      if (!to.destroyed) to.write(chunk);
    });
  }

  /** Delivers what was held, then a close that was held, when the mode allows. */
  private flush(): void {
    for (const dir of ['up', 'down'] as const) {
      const to = this.target(dir);
      if (this.stalled || !to) continue;
      const held = this.held[dir];
      this.held[dir] = [];
      for (const chunk of held) this.send(dir, to, chunk);
      if (this.ended[dir]) this.chain[dir].then(() => this.closeBoth());
    }
  }

  /** One side went away: the other follows once everything before it was delivered. */
  private end(dir: Dir): void {
    if (this.ended[dir]) return;
    this.ended[dir] = true;
    if (dir === 'down' && !this.upstreamReady) { this.closeBoth(); return; }
    if (!this.stalled) this.flush();
  }

  reset(): void {
    clearTimeout(this.resetTimer);
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.upstream && !this.upstream.destroyed) this.upstream.resetAndDestroy();
    this.finish();
  }

  private closeBoth(): void {
    this.client.destroy();
    this.upstream?.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.resetTimer);
    this.onClose();
  }
}

export async function startTcpProxy(t: Scope, target: { host: string; port: number }, mode: ProxyMode = { kind: 'pass' }): Promise<TcpProxy> {
  const state = { mode, target };
  const pairs = new Set<Pair>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    if (state.mode.kind === 'drop') { socket.on('error', () => undefined); socket.resetAndDestroy(); return; }
    const pair: Pair = new Pair(socket, state, () => pairs.delete(pair));
    if (!pair.closed) pairs.add(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const close = async () => {
    for (const p of [...pairs]) p.reset();
    await new Promise<void>((r) => server.close(() => r()));
  };
  t.teardown(close);
  return {
    port: (server.address() as { port: number }).port,
    get mode() { return state.mode; },
    set(m: ProxyMode) {
      state.mode = m;
      for (const p of [...pairs]) p.applyMode();
    },
    get accepted() { return accepted; },
    get open() { return pairs.size; },
    close,
  };
}
