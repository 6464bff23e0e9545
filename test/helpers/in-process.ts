/** Server handlers driven in process, without a transport (security-inprocess, the ban-race tests). */

/** A call object as grpc-js hands it to a unary handler, presenting `leaf` as the TLS peer certificate. */
export function fakeCall<Req>(request: Req, leaf?: Uint8Array) {
  return { request, getAuthContext: () => ({ sslPeerCertificate: leaf ? { raw: Buffer.from(leaf) } : undefined }) };
}

/** Runs a unary handler; a refusal rejects with an Error carrying the gRPC `code` and `details`. */
export function callUnary<Res>(h: unknown, request: unknown, leaf?: Uint8Array): Promise<Res> {
  return new Promise((resolve, reject) => (h as (c: unknown, cb: (e: unknown, r: Res) => void) => void)(fakeCall(request, leaf), (e, r) => {
    if (!e) return resolve(r);
    const g = e as { code: number; details: string };
    reject(Object.assign(new Error(g.details), { code: g.code, details: g.details }));
  }));
}

/**
 * A point in code under test where calls wait while the hold is armed: the test arms
 * it, waits for `reached` (the first call got there), makes the racing change, then
 * releases. Used to put a ban or eviction exactly between a read and a write.
 */
export class Hold {
  private armed = false;
  private open!: () => void;
  private opened!: Promise<void>;
  private arrive!: () => void;
  reached!: Promise<void>;

  constructor() { this.arm(false); }

  arm(on = true): void {
    this.armed = on;
    this.opened = new Promise((r) => { this.open = r; });
    this.reached = new Promise((r) => { this.arrive = r; });
  }

  async pass(): Promise<void> {
    if (!this.armed) return;
    this.arrive();
    await this.opened;
  }

  release(): void { this.armed = false; this.open(); }
}
