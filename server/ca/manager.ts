import { fingerprintOf } from '../../spiffe/fingerprint.ts';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { failedPrecondition, internal } from '../../common/errors.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import type { BundleRecord, Datastore, JwtAuthority } from '../datastore/types.ts';
import { ensurePrivateDir, writeSecretFile } from '../../common/private-files.ts';
import { readPrivateKey, writePrivateKey } from './keyfiles.ts';
import { certificatesToPem, pemToDer } from '../../spiffe/pem.ts';
import { activateAt, prepareAt } from './rotation.ts';

/**
 * The server's certificate authority: an X.509 CA key + certificate and a JWT
 * signing key per "slot". One slot is active (signs everything); during rotation a
 * prepared slot is already published in the bundle so relying parties learn it
 * before it signs anything, and an old slot stays in the bundle until it expires so
 * SVIDs it signed keep verifying.
 *
 * The bundle is shared: several servers on one datastore each keep their own CA (or
 * intermediates under one upstream CA) and each *appends* its authorities to the one
 * bundle row (Datastore.appendBundle, a locked read-modify-write) and prunes only
 * authorities that expired more than a grace period ago (pruneBundle), so no server
 * ever removes another's live key. Every server follows the stored bundle through the
 * change feed: bundle() and x509Authorities() are the merged set, so a server trusts
 * agent SVIDs signed by its peers, and sync streams push the merged bundle.
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
  /**
   * Operator marks (tessera-server localauthority, docs/server.md): a tainted authority
   * is still trusted but agents replace everything it signed at once; a revoked one has
   * left the bundle. Per kind: the X.509 CA and the JWT key of a slot are marked apart.
   */
  x509Mark?: AuthorityMark;
  jwtMark?: AuthorityMark;
}

export type AuthorityMark = 'tainted' | 'revoked';
export type AuthorityKind = 'x509' | 'jwt';

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
  /**
   * How long after its expiry an authority stays in the shared bundle before it is
   * pruned. It cannot validate anything by then; the margin only covers clock skew
   * between servers (one server's clock running ahead must not prune a CA that
   * another still considers valid). Default 3600.
   */
  bundlePruneGraceSeconds?: number;
  store: Pick<Datastore, 'getBundle' | 'appendBundle' | 'pruneBundle' | 'putBundle' | 'subscribe'>;
  clock: Clock;
  logger: Logger;
}

interface StateFile { active: string; prepared?: string; slots: string[]; marks?: Record<string, { x509?: AuthorityMark; jwt?: AuthorityMark }> }

/** 'taint': the set of tainted authorities changed (sync streams push it to agents). */
export type CaEvent = 'bundle' | 'activated' | 'taint';

const DEFAULT_PRUNE_GRACE_S = 3600;

export class CaManager {
  private slotsById = new Map<string, CaSlot>();
  private activeId = '';
  private preparedId: string | undefined;
  private current: BundleRecord | undefined;
  private listeners = new Set<(ev: CaEvent) => void>();
  private lock: Promise<unknown> = Promise.resolve();
  private unsubscribe: () => void = () => {};
  private published = false;
  /** notAfter (ms) per DER hex, so the merged bundle is not re-parsed on every call. */
  private notAfterCache = new Map<string, number>();

  private constructor(private readonly o: CaManagerOptions) {}

  /** Loads the CA from disk, or makes a new one on first start; publishes into the shared bundle and follows it. */
  static async open(o: CaManagerOptions): Promise<CaManager> {
    const m = new CaManager(o);
    ensurePrivateDir(o.dir);
    m.load();
    // Subscribed before the first publish so no peer's change can slip between the two.
    m.unsubscribe = o.store.subscribe((ev) => {
      if (ev.kind === 'bundle' && ev.id === o.trustDomain.name) void m.refresh();
    });
    try {
      await m.tick();
    } catch (e) {
      m.close();
      throw e;
    }
    return m;
  }

  /** Stops following the store (the rotation loop stops with its own signal). */
  close(): void { this.unsubscribe(); }

  get trustDomain(): TrustDomain { return this.o.trustDomain; }
  active(): CaSlot { return this.slotsById.get(this.activeId)!; }
  prepared(): CaSlot | undefined { return this.preparedId ? this.slotsById.get(this.preparedId) : undefined; }
  slots(): CaSlot[] { return [...this.slotsById.values()]; }
  /** The shared bundle as last read from (or written to) the store: every server's authorities. */
  bundle(): BundleRecord { return this.current!; }
  get upstream(): boolean { return this.o.upstream !== undefined; }

  /**
   * Roots to trust: the shared bundle's unexpired X.509 authorities (every server's),
   * plus our own in case the store has not caught up. Used to verify agent SVIDs, as
   * the TLS client-CA list and for bundle.pem.
   */
  x509Authorities(): Uint8Array[] {
    const now = this.o.clock.now();
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    for (const der of [...(this.current?.x509Authorities ?? []), ...this.ownX509Authorities()]) {
      const h = Buffer.from(der).toString('hex');
      if (seen.has(h)) continue;
      seen.add(h);
      const notAfter = this.certNotAfter(h, der);
      if (notAfter === undefined || notAfter > now) out.push(der);
    }
    return out;
  }

  /** This server's own X.509 authorities: its unexpired slots' roots, or the upstream roots. */
  ownX509Authorities(): Uint8Array[] {
    if (this.o.upstream) return this.o.upstream.roots;
    return this.liveSlots().filter((s) => s.x509Mark !== 'revoked').map((s) => s.certificate);
  }

  /** This server's own JWT keys (unexpired slots). */
  jwtAuthorities(): JwtAuthority[] {
    return this.liveSlots().filter((s) => s.jwtMark !== 'revoked').map((s) => ({
      kid: s.jwtKey.kid,
      publicKey: new Uint8Array(s.jwtKey.publicKey.export({ type: 'spki', format: 'der' })),
      expiresAt: Math.floor(s.notAfter / 1000),
    }));
  }

  /** Unexpired slots, oldest first (the order authorities are published in). */
  private liveSlots(): CaSlot[] {
    const now = this.o.clock.now();
    return this.slots().filter((s) => s.notAfter > now).sort((a, b) => a.notBefore - b.notBefore);
  }

  /** SHA-256 (hex) of the DER of the root agents pin (the active root, or the upstream root). */
  fingerprint(): string {
    const root = this.o.upstream ? this.o.upstream.roots[0]! : this.active().certificate;
    return fingerprintOf(root);
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
    // A peer's authority leaving the shared bundle (expiry + grace) is also our job to prune.
    const grace = (this.o.bundlePruneGraceSeconds ?? DEFAULT_PRUNE_GRACE_S) * 1000;
    // Only future times: an authority the store declines to prune (the last one) must not make the loop spin.
    const now = this.o.clock.now();
    for (const t of this.bundleExpiries()) if (t + grace + 1000 > now) times.push(t + grace + 1000);
    return Math.min(...times);
  }

  /** One rotation step: make a first CA, prepare, activate, prune expired slots, publish. Serialised. */
  tick(): Promise<void> {
    return this.serialised(() => this.step());
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

  // ---- operator operations (tessera-server localauthority; views in local-authority.ts) ----

  /** Makes and publishes the next slot now, ahead of the schedule. One prepared slot at a time. */
  prepareNow(): Promise<CaSlot> {
    return this.serialised(async () => {
      const p = this.prepared();
      if (p) throw failedPrecondition('ERR_AUTHORITY_PREPARED', `authority ${p.id} is already prepared: activate it first`);
      const slot = await this.createSlot();
      this.preparedId = slot.id;
      this.saveState();
      this.o.logger.info('prepared next CA (operator)', { slot: slot.id, not_after: new Date(slot.notAfter).toISOString() });
      if (await this.publish(this.o.clock.now())) this.emit('bundle');
      return slot;
    });
  }

  /** Activates the prepared slot now (`slotId` must name it); the active one becomes old. */
  activateNow(slotId: string): Promise<CaSlot> {
    return this.serialised(async () => {
      const p = this.prepared();
      if (!p) throw failedPrecondition('ERR_AUTHORITY_NOT_PREPARED', 'no authority is prepared: prepare one first');
      if (p.id !== slotId) throw failedPrecondition('ERR_AUTHORITY_NOT_PREPARED', `authority ${slotId} is not the prepared one (${p.id})`);
      // Published before it signs anything, as in step().
      const changed = await this.publish(this.o.clock.now());
      this.activeId = p.id;
      this.preparedId = undefined;
      this.saveState();
      this.o.logger.info('activated CA (operator)', { slot: p.id, not_after: new Date(p.notAfter).toISOString() });
      this.emit('activated');
      if (changed) this.emit('bundle');
      return p;
    });
  }

  /**
   * Taints an old authority (neither active nor prepared, as SPIRE): it stays trusted,
   * but agents re-mint at once every SVID it signed (sync streams carry the taint).
   */
  taint(kind: AuthorityKind, slotId: string): Promise<CaSlot> {
    return this.serialised(async () => {
      const s = this.oldSlot(kind, slotId, 'tainted');
      if (s[`${kind}Mark`]) throw failedPrecondition('ERR_AUTHORITY_TAINTED', `${kind} authority ${slotId} is already ${s[`${kind}Mark`]}`);
      s[`${kind}Mark`] = 'tainted';
      this.saveState();
      this.o.logger.warn('authority tainted', { kind, slot: slotId });
      this.emit('taint');
      return s;
    });
  }

  /**
   * Removes a tainted old authority from the shared bundle: SVIDs it signed stop
   * verifying. X.509 only without an upstream CA (the bundle then holds the upstream
   * roots, not our intermediates). Rewrites the bundle (putBundle): a peer's append
   * racing it is lost and put back by that peer's own follow-up (refresh()).
   */
  revoke(kind: AuthorityKind, slotId: string): Promise<CaSlot> {
    return this.serialised(async () => {
      const s = this.oldSlot(kind, slotId, 'revoked');
      if (s[`${kind}Mark`] !== 'tainted') {
        throw failedPrecondition('ERR_AUTHORITY_NOT_TAINTED', `${kind} authority ${slotId} is ${s[`${kind}Mark`] ?? 'not tainted'}: only a tainted authority can be revoked (taint it first)`);
      }
      if (kind === 'x509' && this.o.upstream) {
        throw failedPrecondition('ERR_AUTHORITY_UPSTREAM', 'with an upstream CA the bundle holds the upstream roots: revoke at the upstream CA');
      }
      s[`${kind}Mark`] = 'revoked';
      this.saveState();
      const { store, trustDomain: td } = this.o;
      const b = await store.getBundle(td.name);
      if (b) {
        const der = Buffer.from(s.certificate);
        const next = await store.putBundle({
          trustDomain: b.trustDomain, refreshHint: b.refreshHint,
          x509Authorities: kind === 'x509' ? b.x509Authorities.filter((d) => !der.equals(d)) : b.x509Authorities,
          jwtAuthorities: kind === 'jwt' ? b.jwtAuthorities.filter((k) => k.kid !== s.jwtKey.kid) : b.jwtAuthorities,
        });
        if (this.adopt(next)) this.emit('bundle');
      }
      this.o.logger.warn('authority revoked: removed from the bundle', { kind, slot: slotId });
      return s;
    });
  }

  /** Slot ids of tainted (or revoked, until they expire) authorities, per kind. */
  taintedSlots(kind: AuthorityKind): CaSlot[] {
    return this.slots().filter((s) => s[`${kind}Mark`] !== undefined);
  }

  private oldSlot(kind: AuthorityKind, slotId: string, verb: string): CaSlot {
    const s = this.slotsById.get(slotId);
    if (!s) throw failedPrecondition('ERR_AUTHORITY_NOT_FOUND', `no ${kind} authority ${slotId} on this server`);
    if (s.id === this.activeId) throw failedPrecondition('ERR_AUTHORITY_ACTIVE', `${kind} authority ${slotId} is active: activate another one before it can be ${verb}`);
    if (s.id === this.preparedId) throw failedPrecondition('ERR_AUTHORITY_PREPARED', `${kind} authority ${slotId} is prepared, not old: only an old authority can be ${verb}`);
    return s;
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async step(): Promise<void> {
    const now = this.o.clock.now();
    let activate: CaSlot | undefined;
    const a = this.slotsById.get(this.activeId);
    if (!a || a.notAfter <= now) {
      // First start, or the server was down past the active CA's expiry. The new slot
      // is recorded as prepared first, so a failed publish below does not leave an
      // orphan that the next attempt would duplicate.
      const p = this.prepared();
      const next = p && p.notAfter > now ? p : await this.createSlot();
      this.preparedId = next.id;
      activate = next;
    } else if (!this.preparedId && now >= prepareAt(a)) {
      const p = await this.createSlot();
      this.preparedId = p.id;
      this.o.logger.info('prepared next CA', { slot: p.id, not_after: new Date(p.notAfter).toISOString() });
    } else if (this.preparedId && now >= activateAt(a)) {
      activate = this.prepared();
    }
    this.saveState();
    // Publish before activating: a CA must be in the shared bundle (so every server and,
    // through sync streams, every agent can learn it) before it signs anything. If the
    // store is unreachable this throws and the activation waits for the next attempt.
    const changed = await this.publish(now);
    if (activate) {
      this.activeId = activate.id;
      this.preparedId = undefined;
      this.o.logger.info('activated CA', { slot: this.activeId, not_after: new Date(this.active().notAfter).toISOString() });
    }
    for (const s of this.slots()) {
      if (s.notAfter <= now && s.id !== this.activeId) {
        this.slotsById.delete(s.id);
        rmSync(join(this.o.dir, s.id), { recursive: true, force: true });
      }
    }
    this.saveState();
    if (activate) this.emit('activated');
    if (changed) this.emit('bundle');
  }

  private emit(ev: CaEvent): void {
    for (const l of this.listeners) {
      try { l(ev); } catch (e) { this.o.logger.error('CA listener failed', { err: e, event: ev }); }
    }
  }

  /**
   * Makes the shared bundle hold our authorities (append what is missing) and drops
   * authorities, ours or a peer's, that expired more than the grace period ago. Reads
   * the stored bundle first: a peer may have changed it. True if the bundle we hold changed.
   */
  private async publish(now: number): Promise<boolean> {
    const { store, trustDomain: td, refreshHintSeconds: hint } = this.o;
    let b = await store.getBundle(td.name);
    const ownX509 = this.ownX509Authorities();
    const ownJwt = this.jwtAuthorities();
    // The refresh hint is written only on our first publish (config may have changed
    // while we were down), never on every step: two servers configured with different
    // hints would otherwise rewrite the bundle back and forth.
    if (!b || lacks(b, ownX509, ownJwt) || (!this.published && b.refreshHint !== hint)) {
      b = await store.appendBundle({ trustDomain: td, x509Authorities: ownX509, jwtAuthorities: ownJwt, refreshHint: hint });
    }
    this.published = true;
    const expiresBefore = Math.floor(now / 1000) - (this.o.bundlePruneGraceSeconds ?? DEFAULT_PRUNE_GRACE_S);
    if (this.hasExpired(b, expiresBefore)) b = (await store.pruneBundle(td.name, expiresBefore)) ?? b;
    return this.adopt(b);
  }

  /** Takes `b` as the current bundle when it is newer than what we hold; true if it was. */
  private adopt(b: BundleRecord): boolean {
    if (this.current && b.sequence <= this.current.sequence) return false;
    this.current = b;
    return true;
  }

  /** A peer changed the bundle (change feed): re-read it and tell listeners (server TLS, bundle.pem). */
  private refresh(): Promise<void> {
    return this.serialised(async () => {
      const b = await this.o.store.getBundle(this.o.trustDomain.name);
      if (!b || !this.adopt(b)) return;
      this.emit('bundle');
      // Only expired authorities are ever pruned, so ours missing means a writer that
      // replaced the bundle (putBundle from a tool): put ours back at once.
      if (lacks(b, this.ownX509Authorities(), this.jwtAuthorities())) {
        this.o.logger.warn('own CA missing from the shared bundle; appending it again');
        await this.publish(this.o.clock.now()).then((changed) => { if (changed) this.emit('bundle'); });
      }
    }).catch((err) => this.o.logger.warn('could not refresh the bundle from the datastore', { err }));
  }

  private certNotAfter(hex: string, der: Uint8Array): number | undefined {
    let t = this.notAfterCache.get(hex);
    if (t === undefined) {
      try { t = Date.parse(new X509Certificate(der).validTo); } catch { return undefined; }
      if (this.notAfterCache.size > 1000) this.notAfterCache.clear();
      this.notAfterCache.set(hex, t);
    }
    return t;
  }

  /** Expiry times (ms) of everything in the shared bundle. */
  private bundleExpiries(): number[] {
    const b = this.current;
    if (!b) return [];
    const out: number[] = [];
    for (const der of b.x509Authorities) {
      const t = this.certNotAfter(Buffer.from(der).toString('hex'), der);
      if (t !== undefined) out.push(t);
    }
    for (const k of b.jwtAuthorities) if (k.expiresAt > 0) out.push(k.expiresAt * 1000);
    return out;
  }

  /** Whether pruning at `expiresBefore` (unix seconds) would drop anything (checked here to spare a write per step). */
  private hasExpired(b: BundleRecord, expiresBefore: number): boolean {
    const x509 = b.x509Authorities.map((der) => this.certNotAfter(Buffer.from(der).toString('hex'), der));
    const expired = x509.filter((t) => t !== undefined && t / 1000 <= expiresBefore).length;
    // The store keeps the last X.509 authorities rather than empty the bundle; asking it
    // to prune them again on every step would only rewrite nothing.
    if (expired > 0 && expired < x509.length) return true;
    return b.jwtAuthorities.some((k) => k.expiresAt > 0 && k.expiresAt <= expiresBefore);
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
    writeSecretFile(join(d, 'ca.crt'), certificatesToPem([certificate, ...slot.upstreamChain]));
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
        const [certificate, ...upstreamChain] = pemToDer(readFileSync(join(d, 'ca.crt'), 'utf8'));
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
    for (const [id, m] of Object.entries(st.marks ?? {})) {
      const s = this.slotsById.get(id);
      if (s) { s.x509Mark = m.x509; s.jwtMark = m.jwt; }
    }
    if (this.slotsById.has(st.active)) this.activeId = st.active;
    if (st.prepared && this.slotsById.has(st.prepared)) this.preparedId = st.prepared;
  }

  private saveState(): void {
    const marks: NonNullable<StateFile['marks']> = {};
    for (const s of this.slots()) if (s.x509Mark || s.jwtMark) marks[s.id] = { x509: s.x509Mark, jwt: s.jwtMark };
    const st: StateFile = { active: this.activeId, prepared: this.preparedId, slots: [...this.slotsById.keys()], marks };
    writeSecretFile(join(this.o.dir, 'state.json'), JSON.stringify(st, null, 2) + '\n');
  }
}

/** Whether the bundle is missing any of the given authorities (X.509 by DER, JWT by kid). */
function lacks(b: BundleRecord, x509: Uint8Array[], jwt: JwtAuthority[]): boolean {
  const have = new Set(b.x509Authorities.map((d) => Buffer.from(d).toString('hex')));
  const kids = new Set(b.jwtAuthorities.map((k) => k.kid));
  return x509.some((d) => !have.has(Buffer.from(d).toString('hex'))) || jwt.some((k) => !kids.has(k.kid));
}

function isSelfSigned(der: Uint8Array): boolean {
  const x = new X509Certificate(der);
  return x.subject === x.issuer && x.verify(x.publicKey);
}

/** Reads an upstream CA from PEM files (cert chain: signing cert first; key: PKCS#8/SEC1 PEM). */
export function loadUpstreamCa(certFile: string, keyFile: string, bundleFile?: string): UpstreamCa {
  const chain = pemToDer(readFileSync(certFile, 'utf8'));
  if (chain.length === 0) throw internal('ERR_CA_UPSTREAM', `no PEM certificate in ${certFile}`);
  const roots = bundleFile ? pemToDer(readFileSync(bundleFile, 'utf8')) : chain.filter(isSelfSigned);
  if (roots.length === 0) throw internal('ERR_CA_UPSTREAM', `no root certificate: ${certFile} has no self-signed certificate; set ca.upstream.bundle_file`);
  const signing = chain[0]!;
  const x = new X509Certificate(signing);
  return {
    certificate: signing, privateKey: readPrivateKey(keyFile),
    intermediates: chain.slice(1).filter((c) => !isSelfSigned(c)),
    roots, notAfter: Date.parse(x.validTo),
  };
}
