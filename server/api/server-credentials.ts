import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { serverId } from '../../spiffe/id.ts';
import type { CaManager } from '../ca/manager.ts';
import { renewAt } from '../ca/rotation.ts';
import type { SvidSigner } from '../ca/signer.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * The agent API's TLS identity: the server's own X.509-SVID
 * (spiffe://<td>/tessera/server) and the bundle it checks client certificates
 * against. It is a grpc-js CertificateProvider, so a renewed SVID or a rotated
 * bundle takes effect for new connections without restarting the server.
 * The SVID is renewed at half-life (±10%) and at once when a new CA is activated.
 */
export class ServerSvidProvider implements grpc.experimental.CertificateProvider {
  private caListeners = new Set<CaListener>();
  private idListeners = new Set<IdListener>();
  private identity: { certificate: Buffer; privateKey: Buffer } | undefined;
  private caPem: Buffer | undefined;
  private notBefore = 0;
  private notAfter = 0;
  private wake: (() => void) | undefined;
  readonly credentials: grpc.ServerCredentials;

  constructor(private readonly o: {
    ca: CaManager; signer: SvidSigner; clock: Clock; logger: Logger;
    ttlSeconds: number; dnsNames: string[]; ipAddresses: string[];
  }) {
    this.renew();
    this.refreshBundle();
    o.ca.onChange((ev) => {
      if (ev === 'activated') { this.renew(); this.wake?.(); }
      this.refreshBundle();
    });
    // Client certificates are requested (so RPCs other than Attest can authenticate the
    // agent) but not required (Attest runs before the agent has an SVID). The same
    // object serves both roles; grpc-js names the factory's parameters in swapped order.
    this.credentials = grpc.experimental.createCertificateProviderServerCredentials(this, this, false);
  }

  /** The current server SVID chain (DER, leaf first). */
  chain: Uint8Array[] = [];

  /** Re-issues the server SVID from the active CA. */
  renew(): void {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }) as { privateKey: KeyObject; publicKey: KeyObject };
    const svid = this.o.signer.signX509({
      spiffeId: serverId(this.o.ca.trustDomain), publicKey, ttlSeconds: this.o.ttlSeconds, dnsNames: this.o.dnsNames, ipAddresses: this.o.ipAddresses,
    });
    this.chain = svid.chain;
    this.notBefore = this.o.clock.now();
    this.notAfter = svid.notAfter;
    this.identity = {
      // The chain ends with the root, so an agent bootstrapping by CA fingerprint
      // (before it has a bundle) can find the pinned certificate in the handshake.
      certificate: Buffer.from(certificatesToPem([...svid.chain, ...this.anchor()])),
      privateKey: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    };
    for (const l of this.idListeners) l(this.identity);
    this.o.logger.info('server SVID issued', { serial: svid.serial, not_after: new Date(svid.notAfter).toISOString() });
  }

  private anchor(): Uint8Array[] {
    return this.o.ca.upstream ? this.o.ca.x509Authorities().slice(0, 1) : [this.o.ca.active().certificate];
  }

  private refreshBundle(): void {
    this.caPem = Buffer.from(certificatesToPem(this.o.ca.x509Authorities()));
    for (const l of this.caListeners) l({ caCertificate: this.caPem });
  }

  /** Renewal loop: until `signal` aborts. A CA activation wakes it early (renew() already ran). */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.o;
    while (!signal.aborted) {
      const due = renewAt({ notBefore: this.notBefore, notAfter: this.notAfter });
      const nap = new AbortController();
      const stop = () => nap.abort();
      signal.addEventListener('abort', stop, { once: true });
      this.wake = stop;
      try { await clock.sleep(Math.max(due - clock.now(), 0), nap.signal); } catch { /* woken or stopped */ }
      signal.removeEventListener('abort', stop);
      this.wake = undefined;
      if (signal.aborted) return;
      if (clock.now() < due) continue;
      try { this.renew(); } catch (e) {
        logger.error('server SVID renewal failed', { err: e });
        try { await clock.sleep(1_000 + Math.random() * 4_000, signal); } catch { return; }
      }
    }
  }

  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    // Deliver after grpc-js has registered its watcher (it adds our listeners first).
    queueMicrotask(() => { if (this.caPem && this.caListeners.has(l)) l({ caCertificate: this.caPem }); });
  }
  removeCaCertificateListener(l: CaListener): void { this.caListeners.delete(l); }
  addIdentityCertificateListener(l: IdListener): void {
    this.idListeners.add(l);
    queueMicrotask(() => { if (this.identity && this.idListeners.has(l)) l(this.identity); });
  }
  removeIdentityCertificateListener(l: IdListener): void { this.idListeners.delete(l); }
}
