import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { ScheduleLoop } from '../../common/schedule.ts';
import { ensurePrivateDir, writeSecretFile } from '../../common/private-files.ts';
import { readPrivateKey, writePrivateKey } from '../ca/keyfiles.ts';
import type { Datastore, OAuthKeyRecord } from '../datastore/types.ts';

/**
 * The authorization server's token-signing keys: ES256, dedicated (never the JWT-SVID
 * key, so neither kind of validator accepts the other's tokens), rotated on a schedule.
 *
 * A key's life: created and published (store.putOAuthKey, so every server sharing the
 * store serves it at /oauth2/jwks) `publishLead` before it signs; signs from `activeAt`
 * to `retireAt`; stays published until `notAfter` = retireAt + the longest token
 * lifetime (+ skew margin), after which no token it signed is alive and every server
 * prunes it. Private keys live 0600 under <data_dir>/oauth/keys/, one file per kid.
 *
 * The published set of *all* servers is followed through the change feed (kind
 * oauth_key); an unknown kid also triggers a reload (at most once a second), for a
 * token minted by a peer whose key event has not arrived yet.
 */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** ms */
  activeAt: number;
  retireAt: number;
  notAfter: number;
}

export interface OAuthKeyManagerOptions {
  dir: string;
  store: Pick<Datastore, 'putOAuthKey' | 'listOAuthKeys' | 'pruneOAuthKeys' | 'subscribe'>;
  clock: Clock;
  logger: Logger;
  /** How long one key signs. */
  rotationSeconds: number;
  /** Published this long before it signs: the JWKS refresh interval of relying parties. */
  publishLeadSeconds: number;
  /** The longest lifetime of a token this server issues. */
  maxTokenTtlSeconds: number;
}

interface StateFile { keys: { kid: string; activeAt: number; retireAt: number; notAfter: number }[] }

const SKEW_MARGIN_MS = 60_000;
const STORE_RELOAD_MIN_INTERVAL_MS = 1_000;
export const OAUTH_KEY_ALG = 'ES256';

export class OAuthKeyManager {
  private own: SigningKey[] = [];
  /** Every server's published keys (store), plus our own: kid -> public key. */
  private published = new Map<string, { key: KeyObject; notAfter: number }>();
  private jwksJson = '{"keys":[]}';
  private lock: Promise<unknown> = Promise.resolve();
  private reloadedAt = -Infinity;
  private reloading: Promise<void> | undefined;
  private unsubscribe: () => void = () => {};
  private readonly loop: ScheduleLoop;

  private constructor(private readonly o: OAuthKeyManagerOptions) {
    this.loop = new ScheduleLoop({
      clock: o.clock, logger: o.logger, what: 'oauth signing key rotation step', nextAt: () => this.nextEventAt(), step: () => this.tick(false),
    });
  }

  static async open(o: OAuthKeyManagerOptions): Promise<OAuthKeyManager> {
    const m = new OAuthKeyManager(o);
    ensurePrivateDir(o.dir);
    m.load();
    m.unsubscribe = o.store.subscribe((ev) => { if (ev.kind === 'oauth_key') void m.reload(); });
    try {
      await m.tick(true);
    } catch (e) { m.close(); throw e; }
    return m;
  }

  close(): void { this.unsubscribe(); }

  /** The key that signs now: the newest activated one (a stalled loop never stops signing). */
  signingKey(): SigningKey {
    const now = this.o.clock.now();
    const active = this.own.filter((k) => k.activeAt <= now).sort((a, b) => b.activeAt - a.activeAt);
    return active[0] ?? this.own[0]!;
  }

  /** A published public key by kid (any server's); reloads from the store once on a miss. */
  async findKey(kid: string): Promise<KeyObject | undefined> {
    const hit = this.live(kid);
    if (hit || this.o.clock.now() - this.reloadedAt < STORE_RELOAD_MIN_INTERVAL_MS) return hit;
    await this.reload();
    return this.live(kid);
  }

  private live(kid: string): KeyObject | undefined {
    const k = this.published.get(kid);
    return k && k.notAfter * 1000 > this.o.clock.now() ? k.key : undefined;
  }

  /** The JWKS document of every server's live keys (served at /oauth2/jwks). */
  jwks(): string { return this.jwksJson; }

  kids(): string[] { return this.own.map((k) => k.kid); }

  /** Rotation loop until `signal` aborts; store failures back off with jitter. */
  async run(signal: AbortSignal): Promise<void> {
    await this.loop.run(signal);
  }


  /** When the next rotation step is due (ms). */
  nextEventAt(): number {
    const now = this.o.clock.now();
    const lead = this.o.publishLeadSeconds * 1000;
    const cur = this.signingKey();
    // Work already due (a key to prune, the next key to make) runs at once: a busy loop
    // that wakes late must not skip it.
    const times = this.own.map((k) => k.notAfter);
    if (!this.own.some((k) => k.activeAt >= cur.retireAt)) times.push(cur.retireAt - lead);
    if (times.some((x) => x <= now)) return now;
    return Math.min(...times, cur.retireAt > now ? cur.retireAt : Infinity, now + 3_600_000);
  }

  /** Forces a rotation step now (tests, operators). */
  rotateNow(): void { this.loop.wake(); }

  private tick(publishAll: boolean): Promise<void> {
    const run = this.lock.then(() => this.step(publishAll));
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async step(publishAll: boolean): Promise<void> {
    const { clock, logger } = this.o;
    const now = clock.now();
    const made: SigningKey[] = [];
    // Expired keys: nothing they signed is alive.
    const expired = this.own.filter((k) => k.notAfter <= now);
    this.own = this.own.filter((k) => k.notAfter > now);
    for (const k of expired) rmSync(this.keyPath(k.kid), { force: true });

    const rotation = this.o.rotationSeconds * 1000;
    const current = this.own.find((k) => k.activeAt <= now && k.retireAt > now);
    if (!current) {
      // First start, or the server was down through a rotation: sign at once (relying
      // parties refetch the JWKS on an unknown kid).
      made.push(this.create(now, now + rotation));
    } else if (current.retireAt - this.o.publishLeadSeconds * 1000 <= now && !this.own.some((k) => k.activeAt >= current.retireAt)) {
      made.push(this.create(current.retireAt, current.retireAt + rotation));
    }
    if (made.length > 0 || expired.length > 0) this.save();
    for (const k of publishAll ? this.own : made) await this.o.store.putOAuthKey(toRecord(k));
    for (const k of made) logger.info('oauth signing key created', { kid: k.kid, active_at: iso(k.activeAt), retire_at: iso(k.retireAt), not_after: iso(k.notAfter) });
    await this.o.store.pruneOAuthKeys(Math.floor(now / 1000));
    await this.reload();
  }

  private create(activeAt: number, retireAt: number): SigningKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = `oak_${randomBytes(12).toString('base64url')}`;
    const k: SigningKey = {
      kid, privateKey, publicKey, activeAt, retireAt, notAfter: retireAt + this.o.maxTokenTtlSeconds * 1000 + SKEW_MARGIN_MS,
    };
    writePrivateKey(this.keyPath(kid), privateKey);
    this.own.push(k);
    return k;
  }

  private keyPath(kid: string): string { return join(this.o.dir, `${kid}.key`); }

  private load(): void {
    const statePath = join(this.o.dir, 'state.json');
    if (!existsSync(statePath)) return;
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as StateFile;
    for (const s of state.keys) {
      const path = this.keyPath(s.kid);
      if (!/^oak_[A-Za-z0-9_-]+$/.test(s.kid) || !existsSync(path)) {
        this.o.logger.warn('oauth signing key listed in state.json is missing; skipped', { kid: s.kid });
        continue;
      }
      const privateKey = readPrivateKey(path);
      this.own.push({ ...s, privateKey, publicKey: createPublicKey(privateKey) });
    }
  }

  private save(): void {
    const state: StateFile = { keys: this.own.map((k) => ({ kid: k.kid, activeAt: k.activeAt, retireAt: k.retireAt, notAfter: k.notAfter })) };
    writeSecretFile(join(this.o.dir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  }

  /** Re-reads every server's published keys; concurrent callers share one read. */
  private reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        this.reloadedAt = this.o.clock.now();
        const records = await this.o.store.listOAuthKeys();
        this.rebuild(records);
      } finally { this.reloading = undefined; }
    })();
    return this.reloading;
  }

  private rebuild(records: OAuthKeyRecord[]): void {
    const next = new Map<string, { key: KeyObject; notAfter: number }>();
    const now = Math.floor(this.o.clock.now() / 1000);
    for (const r of records) {
      if (r.alg !== OAUTH_KEY_ALG || r.notAfter <= now) continue;
      try {
        next.set(r.kid, { key: createPublicKey({ key: Buffer.from(r.publicKey), format: 'der', type: 'spki' }), notAfter: r.notAfter });
      } catch (e) { this.o.logger.warn('unparseable oauth key in the store; skipped', { kid: r.kid, err: e }); }
    }
    for (const k of this.own) next.set(k.kid, { key: k.publicKey, notAfter: Math.floor(k.notAfter / 1000) });
    this.published = next;
    const keys = [...next].sort(([a], [b]) => a.localeCompare(b)).map(([kid, { key }]) => ({
      ...(key.export({ format: 'jwk' }) as object), kid, alg: OAUTH_KEY_ALG, use: 'sig',
    }));
    this.jwksJson = JSON.stringify({ keys });
  }
}

function toRecord(k: SigningKey): OAuthKeyRecord {
  return {
    kid: k.kid, alg: OAUTH_KEY_ALG, notAfter: Math.floor(k.notAfter / 1000),
    publicKey: new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' })),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
