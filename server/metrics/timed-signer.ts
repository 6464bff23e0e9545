import { performance } from 'node:perf_hooks';
import type { Histogram } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import type { CaManager } from '../ca/manager.ts';
import { SvidSigner, type JwtMintRequest, type SignedX509, type X509SignRequest } from '../ca/signer.ts';

/**
 * The SVID signer with each signature timed (every SVID the server makes goes through
 * it: workload, agent and server SVIDs), so the signing path itself stays untouched.
 */
export class TimedSvidSigner extends SvidSigner {
  constructor(ca: CaManager, clock: Clock, private readonly seconds: Histogram<'type'>) {
    super(ca, clock);
  }

  override signX509(r: X509SignRequest): SignedX509 {
    const start = performance.now();
    try { return super.signX509(r); } finally { this.seconds.observe({ type: 'x509' }, (performance.now() - start) / 1000); }
  }

  override async signX509Async(r: X509SignRequest): Promise<SignedX509> {
    const start = performance.now();
    try { return await super.signX509Async(r); } finally { this.seconds.observe({ type: 'x509' }, (performance.now() - start) / 1000); }
  }

  override async mintJwt(r: JwtMintRequest): Promise<{ token: string; expiresAt: number }> {
    const start = performance.now();
    try { return await super.mintJwt(r); } finally { this.seconds.observe({ type: 'jwt' }, (performance.now() - start) / 1000); }
  }
}
