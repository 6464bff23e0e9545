import { createHash, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { internal } from '../../common/errors.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import type { BundleRecord, Datastore, JwtAuthority } from '../datastore/types.ts';
import { derToPem, ensurePrivateDir, pemToDerList, readPrivateKey, writePrivateKey, writeSecretFile } from './keyfiles.ts';
import { activateAt, prepareAt } from './rotation.ts';

/**
 * The server's certificate authority: an X.509 CA key + certificate and a JWT
 * signing key per "slot". One slot is active (signs everything); during rotation a
 * prepared slot is already published in the bundle so relying parties learn it
 * before it signs anything, and an old slot stays in the bundle until it expires so
 * SVIDs it signed keep verifying. Bundle changes go to the datastore (putBundle),
 * from where sync streams push them to agents.
 *
 * Disk layout (<dir> is 0700, keys 0600):
 *   state.json                         which slot is active / prepared
 *   <slot>/ca.key  <slot>/ca.crt       CA key (PKCS#8 PEM) and cert (+ upstream chain)
 *   <slot>/jwt.key                     JWT signing key (ES256)
 */
export interface JwtKey { kid: string; privateKey: KeyObject; publicKey: KeyObject }

export interface CaSlot {
  id: string;
  /** Our CA certificate (DER): a root, or an intermediate under the upstream CA. */
  certificate: Uint8Array;
  privateKey: KeyObject;
  /** Certificates between ours and the upstream root, ours excluded ([] when self-signed). */
  upstreamChain: Uint8Array[];
  notBefore: number;
  notAfter: number;
  jwtKey: JwtKey;
}

/** Upstream CA material (server runs as an intermediate). */
export interface UpstreamCa {
  certificate: Uint8Array;
  privateKey: KeyObject;
  /** Certificates between the upstream signing cert and the root (excluded). */
  intermediates: Uint8Array[];
  /** Roots agents trust: the X.509 authorities of the bundle. */
  roots: Uint8Array[];
  notAfter: number;
}

export interface CaManagerOptions {
  trustDomain: TrustDomain;
  /** Directory for CA material (created 0700). */
  dir: string;
  ttlSeconds: number;
  subject?: { organization?: string; commonName?: string };
  upstream?: UpstreamCa;
  refreshHintSeconds: number;
  store: Pick<Datastore, 'getBundle' | 'putBundle'>;
  clock: Clock;
  logger: Logger;
}

interface StateFile { active: string; prepared?: string; slots: string[] }

export type CaEvent = 'bundle' | 'activated';

export class CaManager {
  private slotsById = new Map<string, CaSlot>();
  private activeId = '';
  private preparedId: string | undefined;
  private current: BundleRecord | undefined;
  private listeners = new Set<(ev: CaEvent) => void>();
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(private readonly o: CaManagerOptions) {}

  /** Loads the CA from disk, or makes a new one on first start; publishes the bundle. */
  static async open(o: CaManagerOptions): Promise<CaManager> {
    const m = new CaManager(o);
    ensurePrivateDir(o.dir);
    m.load();
    await m.tick();
    return m;
  }

  get trustDomain(): TrustDomain { return this.o.trustDomain; }
  active(): CaSlot { return this.slotsById.get(this.activeId)!; }
  prepared(): CaSlot | undefined { return this.preparedId ? this.slotsById.get(this.preparedId) : undefined; }
  slots(): CaSlot[] { return [...this.slotsById.values()]; }
  /** The bundle as last written to the store. */
  bundle(): BundleRecord { return this.current!; }
  get upstream(): boolean { return this.o.upstream !== undefined; }

  /** Roots agents pin: the bundle's X.509 authorities. */
  x509Authorities(): Uint8Array[] {
    if (this.o.upstream) return this.o.upstream.roots;
    const now = this.o.clock.now();
    return this.slots().filter((s) => s.notAfter > now).sort((a, b) => a.notBefore - b.notBefore).map((s) => s.certificate);
  }

  jwtAuthorities(): JwtAuthority[] {
    const now = this.o.clock.now();
    return this.slots().filter((s) => s.notAfter > now).sort((a, b) => a.notBefore - b.notBefore).map((s) => ({
      kid: s.jwtKey.kid,
      publicKey: new Uint8Array(s.jwtKey.publicKey.export({ type: 'spki', format: 'der' })),
      expiresAt: Math.floor(s.notAfter / 1000),
    }));
  }

  /** SHA-256 (hex) of the DER of the root agents pin (the active root, or the upstream root). */
  fingerprint(): string {
    const root = this.o.upstream ? this.o.upstream.roots[0]! : this.active().certificate;
    return createHash('sha256').update(root).digest('hex');
  }

  onChange(listener: (ev: CaEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** When the next rotation step is due (ms). */
  nextEventAt(): number {
    const a = this.active();
    const times = [this.prepared() ? activateAt(a) : prepareAt(a)];
    for (const s of this.slots()) if (s.id !== this.activeId && s.id !== this.preparedId) times.push(s.notAfter);
    return Math.min(...times);
  }

  /** One rotation step: make a first CA, prepare, activate, prune expired slots, publish. Serialised. */
  tick(): Promise<void> {
    const run = this.lock.then(() => this.step());
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** The rotation loop: runs until `signal` aborts; failures back off with jitter. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.o;
    while (!signal.aborted) {
      let wait: number;
      try {
        await this.tick();
        wait = Math.min(Math.max(this.nextEventAt() - clock.now(), 0), 60_000);
      } catch (e) {
        logger.error('CA rotation step failed', { err: e });
        wait = 5_000 + Math.random() * 5_000;
      }
      try { await clock.sleep(wait, signal); } catch { return; }
    }
  }

  private async step(): Promise<void> {
    const now = this.o.clock.now();
    let activated = false;
    const a = this.slotsById.get(this.activeId);
    if (!a || a.notAfter <= now) {
      // First start, or the server was down past the active CA's expiry.
      const p = this.prepared();
      const next = p && p.notAfter > now ? p : await this.createSlot();
      this.activeId = next.id;
      this.preparedId = undefined;
      activated = true;
    } else if (!this.preparedId && now >= prepareAt(a)) {
      const p = await this.createSlot();
      this.preparedId = p.id;
      this.o.logger.info('prepared next CA', { slot: p.id, not_after: new Date(p.notAfter).toISOString() });
    } else if (this.preparedId && now >= activateAt(a)) {
      this.activeId = this.preparedId;
      this.preparedId = undefined;
      activated = true;
    }
    for (const s of this.slots()) {
      if (s.notAfter <= now && s.id !== this.activeId) {
        this.slotsById.delete(s.id);
        rmSync(join(this.o.dir, s.id), { recursive: true, force: true });
      }
    }
    this.saveState();
    if (activated) {
      this.o.logger.info('activated CA', { slot: this.activeId, not_after: new Date(this.active().notAfter).toISOString() });
    }
    const changed = await this.publish();
    if (activated) this.emit('activated');
    if (changed) this.emit('bundle');
  }

  private emit(ev: CaEvent): void {
    for (const l of this.listeners) {
      try { l(ev); } catch (e) { this.o.logger.error('CA listener failed', { err: e, event: ev }); }
    }
  }

  /** Writes the bundle to the store when its content changed; true if it did. */
  private async publish(): Promise<boolean> {
    const td = this.o.trustDomain;
    const x509Authorities = this.x509Authorities();
    const jwtAuthorities = this.jwtAuthorities();
    const stored = this.current ?? await this.o.store.getBundle(td.name);
    if (stored && sameBundle(stored, x509Authorities, jwtAuthorities, this.o.refreshHintSeconds)) {
      this.current = stored;
      return false;
    }
    this.current = await this.o.store.putBundle({ trustDomain: td, x509Authorities, jwtAuthorities, refreshHint: this.o.refreshHintSeconds });
    return true;
  }

  private async createSlot(): Promise<CaSlot> {
    const { clock, trustDomain, upstream } = this.o;
    const now = clock.now();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const notBefore = now - 10_000; // tolerate small clock skew between server and agents
    let notAfter = now + this.o.ttlSeconds * 1000;
    if (upstream) notAfter = Math.min(notAfter, upstream.notAfter);
    if (notAfter <= now) throw internal('ERR_CA_UPSTREAM_EXPIRED', 'upstream CA certificate has expired');
    const certificate = await createCaCertificate({
      trustDomain, publicKey, privateKey,
      notBefore: new Date(notBefore), notAfter: new Date(notAfter),
      subject: this.o.subject,
      parent: upstream ? { certificate: upstream.certificate, privateKey: upstream.privateKey } : undefined,
    });
    const jwt = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const slot: CaSlot = {
      id: `${new Date(now).toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`,
      certificate, privateKey, notBefore, notAfter,
      upstreamChain: upstream ? [upstream.certificate, ...upstream.intermediates].filter((c) => !isSelfSigned(c)) : [],
      jwtKey: { kid: randomBytes(16).toString('base64url'), privateKey: jwt.privateKey, publicKey: jwt.publicKey },
    };
    const d = join(this.o.dir, slot.id);
    ensurePrivateDir(d);
    writePrivateKey(join(d, 'ca.key'), privateKey);
    writeSecretFile(join(d, 'ca.crt'), [certificate, ...slot.upstreamChain].map((c) => derToPem(c)).join(''));
    writePrivateKey(join(d, 'jwt.key'), jwt.privateKey);
    writeSecretFile(join(d, 'jwt.kid'), slot.jwtKey.kid);
    this.slotsById.set(slot.id, slot);
    this.saveState();
    return slot;
  }

  private load(): void {
    const path = join(this.o.dir, 'state.json');
    if (!existsSync(path)) return;
    const st = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
    for (const id of st.slots) {
      const d = join(this.o.dir, id);
      try {
        const [certificate, ...upstreamChain] = pemToDerList(readFileSync(join(d, 'ca.crt'), 'utf8'));
        const x = new X509Certificate(certificate!);
        const jwtPriv = readPrivateKey(join(d, 'jwt.key'));
        this.slotsById.set(id, {
          id, certificate: certificate!, upstreamChain, privateKey: readPrivateKey(join(d, 'ca.key')),
          notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo),
          jwtKey: { kid: readFileSync(join(d, 'jwt.kid'), 'utf8').trim(), privateKey: jwtPriv, publicKey: createPublicKey(jwtPriv) },
        });
      } catch (e) {
        this.o.logger.warn('skipping unreadable CA slot', { slot: id, err: e });
      }
    }
    if (this.slotsById.has(st.active)) this.activeId = st.active;
    if (st.prepared && this.slotsById.has(st.prepared)) this.preparedId = st.prepared;
  }

  private saveState(): void {
    const st: StateFile = { active: this.activeId, prepared: this.preparedId, slots: [...this.slotsById.keys()] };
    writeSecretFile(join(this.o.dir, 'state.json'), JSON.stringify(st, null, 2) + '\n');
  }
}

function sameBundle(b: BundleRecord, x509: Uint8Array[], jwt: JwtAuthority[], hint: number): boolean {
  const hex = (l: Uint8Array[]) => l.map((d) => Buffer.from(d).toString('hex')).join(',');
  const jwts = (l: JwtAuthority[]) => l.map((k) => `${k.kid}:${Buffer.from(k.publicKey).toString('hex')}:${k.expiresAt}`).join(',');
  return hex(b.x509Authorities) === hex(x509) && jwts(b.jwtAuthorities) === jwts(jwt) && b.refreshHint === hint;
}

function isSelfSigned(der: Uint8Array): boolean {
  const x = new X509Certificate(der);
  return x.subject === x.issuer && x.verify(x.publicKey);
}

/** Reads an upstream CA from PEM files (cert chain: signing cert first; key: PKCS#8/SEC1 PEM). */
export function loadUpstreamCa(certFile: string, keyFile: string, bundleFile?: string): UpstreamCa {
  const chain = pemToDerList(readFileSync(certFile, 'utf8'));
  if (chain.length === 0) throw internal('ERR_CA_UPSTREAM', `no PEM certificate in ${certFile}`);
  const roots = bundleFile ? pemToDerList(readFileSync(bundleFile, 'utf8')) : chain.filter(isSelfSigned);
  if (roots.length === 0) throw internal('ERR_CA_UPSTREAM', `no root certificate: ${certFile} has no self-signed certificate; set ca.upstream.bundle_file`);
  const signing = chain[0]!;
  const x = new X509Certificate(signing);
  return {
    certificate: signing, privateKey: readPrivateKey(keyFile),
    intermediates: chain.slice(1).filter((c) => !isSelfSigned(c)),
    roots, notAfter: Date.parse(x.validTo),
  };
}
