/**
 * Heap of a running server after a full GC, read through its inspector (Chrome
 * DevTools Protocol over WebSocket): start the server with
 * NODE_OPTIONS=--inspect=127.0.0.1:0 and pass the ws:// URL it prints. Needs the
 * global WebSocket (run the bench with node --experimental-websocket on Node 20).
 */
import { cpus, loadavg } from 'node:os';

export class ServerHeap {
  private ws: WebSocket;
  private next = 1;
  private waiting = new Map<number, (r: { result?: { result?: { value?: unknown } }; error?: { message: string } }) => void>();
  private opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => { this.ws.onopen = () => resolve(); this.ws.onerror = () => reject(new Error(`inspector ${url} refused`)); });
    this.ws.onmessage = (m) => {
      const r = JSON.parse(String(m.data)) as { id?: number; result?: { result?: { value?: unknown } }; error?: { message: string } };
      if (r.id !== undefined) { this.waiting.get(r.id)?.(r); this.waiting.delete(r.id); }
    };
  }

  /** The ws:// URL from a process's stderr ("Debugger listening on ws://..."). */
  static urlIn(stderr: string): string {
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(stderr);
    if (!m) throw new Error('no inspector URL in the server output: start it with NODE_OPTIONS=--inspect=127.0.0.1:0');
    return m[1]!;
  }

  private async call(method: string, params: unknown = {}): Promise<unknown> {
    await this.opened;
    const id = this.next++;
    const r = await new Promise<{ result?: { result?: { value?: unknown } }; error?: { message: string } }>((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
    if (r.error) throw new Error(`${method}: ${r.error.message}`);
    return r.result?.result?.value;
  }

  /** heapUsed / rss (MiB) right after a full (forced) garbage collection. */
  async afterGc(): Promise<{ heapMiB: number; rssMiB: number }> {
    await this.call('HeapProfiler.enable');
    await this.call('HeapProfiler.collectGarbage');
    const v = JSON.parse(String(await this.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true }))) as { heapUsed: number; rss: number };
    return { heapMiB: v.heapUsed / 2 ** 20, rssMiB: v.rss / 2 ** 20 };
  }

  close(): void { this.ws.close(); }
}

/** "load 3.1 2.4 1.9 / 2 cpus": printed next to every figure (the box is shared). */
export function load(): string {
  return `load ${loadavg().map((x) => x.toFixed(1)).join(' ')} / ${cpus().length} cpus`;
}
