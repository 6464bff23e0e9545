import { createPublicKey, generateKeyPairSync, randomInt, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { ScheduleLoop } from '../../common/schedule.ts';
import { ensurePrivateDir, writeSecretFile } from '../../common/private-files.ts';
import type { BiscuitRootKey, BiscuitRootKeySource } from '../../spiffe/biscuit/keys.ts';
import { readPrivateKey, writePrivateKey } from '../ca/keyfiles.ts';
import type { Datastore, OAuthKeyRecord } from '../datastore/types.ts';
import { sendJson } from './http.ts';
import type { Route } from './listener.ts';

/**
 * The trust domain's Biscuit root keys (Ed25519, docs/attenuation.md), on the same
 * schedule as the token-signing keys (keys.ts): published `publishLead` before they
 * sign, sign for `rotation`, stay published until the last token they signed has
 * expired. Published through the same store table as the token-signing keys
 * (store.putOAuthKey, alg "biscuit-ed25519", kid "bsk_<root_key_id>"), so every
 * server sharing the store serves every server's keys at GET /oauth2/biscuit-keys,
 * and the JWKS of token-signing keys never lists them.
 */
export const BISCUIT_KEY_ALG = 'biscuit-ed25519';
const SKEW_MARGIN_MS = 60_000;

export interface BiscuitSigningKey {
  kid: string;
  /** Biscuit root_key_id. */
  rootKeyId: number;
  /** Raw Ed25519 private key (32 bytes). */
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  activeAt: number;
  retireAt: number;
  notAfter: number;
}

interface StateFile { keys: { kid: string; activeAt: number; retireAt: number; notAfter: number }[] }

export class BiscuitKeyManager implements BiscuitRootKeySource {
  private own: BiscuitSigningKey[] = [];
  private published = new Map<number, { key: BiscuitRootKey; kid: string; notAfter: number }>();
  private doc = '{"keys":[]}';
  private unsubscribe: () => void = () => {};
  private readonly loop: ScheduleLoop;

  private constructor(private readonly o: {
    dir: string; store: Pick<Datastore, 'putOAuthKey' | 'listOAuthKeys' | 'subscribe'>; clock: Clock; logger: Logger;
    rotationSeconds: number; publishLeadSeconds: number; maxTokenTtlSeconds: number;
  }) {
    this.loop = new ScheduleLoop({
      clock: o.clock, logger: o.logger, what: 'biscuit root key rotation step', nextAt: () => this.nextEventAt(), step: () => this.step(false),
    });
  }

  static async open(o: BiscuitKeyManager['o']): Promise<BiscuitKeyManager> {
    const m = new BiscuitKeyManager(o);
    ensurePrivateDir(o.dir);
    m.load();
    m.unsubscribe = o.store.subscribe((ev) => { if (ev.kind === 'oauth_key' && ev.id.startsWith('bsk_')) void m.reload().catch(() => undefined); });
    try { await m.step(true); } catch (e) { m.close(); throw e; }
    return m;
  }

  close(): void { this.unsubscribe(); }

  signingKey(): BiscuitSigningKey {
    const now = this.o.clock.now();
    return this.own.filter((k) => k.activeAt <= now).sort((a, b) => b.activeAt - a.activeAt)[0] ?? this.own[0]!;
  }

  rootKey(id: number | undefined): BiscuitRootKey | undefined {
    const k = id === undefined ? undefined : this.published.get(id);
    return k && k.notAfter * 1000 > this.o.clock.now() ? k.key : undefined;
  }

  async refresh(): Promise<void> { await this.reload(); }

  /** The document served at GET /oauth2/biscuit-keys. */
  document(): string { return this.doc; }

  /** Rotation loop until `signal` aborts (the token-signing keys' schedule). */
  async run(signal: AbortSignal): Promise<void> {
    await this.loop.run(signal);
  }


  rotateNow(): void { this.loop.wake(); }

  private nextEventAt(): number {
    const now = this.o.clock.now();
    const cur = this.signingKey();
    const times = this.own.map((k) => k.notAfter);
    if (!this.own.some((k) => k.activeAt >= cur.retireAt)) times.push(cur.retireAt - this.o.publishLeadSeconds * 1000);
    if (times.some((x) => x <= now)) return now;
    return Math.min(...times, cur.retireAt > now ? cur.retireAt : Infinity, now + 3_600_000);
  }

  private async step(publishAll: boolean): Promise<void> {
    const now = this.o.clock.now();
    const made: BiscuitSigningKey[] = [];
    const expired = this.own.filter((k) => k.notAfter <= now);
    this.own = this.own.filter((k) => k.notAfter > now);
    for (const k of expired) rmSync(join(this.o.dir, `${k.kid}.key`), { force: true });
    const rotation = this.o.rotationSeconds * 1000;
    const current = this.own.find((k) => k.activeAt <= now && k.retireAt > now);
    if (!current) made.push(this.create(now, now + rotation));
    else if (current.retireAt - this.o.publishLeadSeconds * 1000 <= now && !this.own.some((k) => k.activeAt >= current.retireAt)) {
      made.push(this.create(current.retireAt, current.retireAt + rotation));
    }
    if (made.length || expired.length) this.save();
    for (const k of publishAll ? this.own : made) await this.o.store.putOAuthKey(toRecord(k));
    for (const k of made) this.o.logger.info('biscuit root key created', { kid: k.kid, active_at: iso(k.activeAt), retire_at: iso(k.retireAt) });
    await this.reload();
  }

  private create(activeAt: number, retireAt: number): BiscuitSigningKey {
    const { privateKey } = generateKeyPairSync('ed25519');
    const rootKeyId = randomInt(1, 0xffffffff);
    const kid = `bsk_${rootKeyId}`;
    writePrivateKey(join(this.o.dir, `${kid}.key`), privateKey);
    const k = { kid, rootKeyId, ...raw(privateKey), activeAt, retireAt, notAfter: retireAt + this.o.maxTokenTtlSeconds * 1000 + SKEW_MARGIN_MS };
    this.own.push(k);
    return k;
  }

  private load(): void {
    const statePath = join(this.o.dir, 'state.json');
    if (!existsSync(statePath)) return;
    for (const s of (JSON.parse(readFileSync(statePath, 'utf8')) as StateFile).keys) {
      const path = join(this.o.dir, `${s.kid}.key`);
      if (!/^bsk_\d+$/.test(s.kid) || !existsSync(path)) { this.o.logger.warn('biscuit root key listed in state.json is missing; skipped', { kid: s.kid }); continue; }
      this.own.push({ ...s, rootKeyId: Number(s.kid.slice(4)), ...raw(readPrivateKey(path)) });
    }
  }

  private save(): void {
    const state: StateFile = { keys: this.own.map((k) => ({ kid: k.kid, activeAt: k.activeAt, retireAt: k.retireAt, notAfter: k.notAfter })) };
    writeSecretFile(join(this.o.dir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  }

  private async reload(): Promise<void> {
    const now = Math.floor(this.o.clock.now() / 1000);
    const next = new Map<number, { key: BiscuitRootKey; kid: string; notAfter: number }>();
    for (const r of await this.o.store.listOAuthKeys()) {
      if (r.alg !== BISCUIT_KEY_ALG || r.notAfter <= now || !/^bsk_\d+$/.test(r.kid)) continue;
      const id = Number(r.kid.slice(4));
      next.set(id, { kid: r.kid, notAfter: r.notAfter, key: { id, publicKey: r.publicKey.subarray(-32) } });
    }
    for (const k of this.own) next.set(k.rootKeyId, { kid: k.kid, notAfter: Math.floor(k.notAfter / 1000), key: { id: k.rootKeyId, publicKey: k.publicKey } });
    this.published = next;
    const keys = [...next.values()].sort((a, b) => a.key.id - b.key.id).map((k) => ({
      kty: 'OKP', crv: 'Ed25519', x: Buffer.from(k.key.publicKey).toString('base64url'), kid: k.kid, root_key_id: k.key.id,
      alg: 'Ed25519', use: 'biscuit', exp: k.notAfter,
    }));
    this.doc = JSON.stringify({ keys });
  }
}

/** GET /oauth2/biscuit-keys: every server's live Biscuit root public keys. */
export function biscuitKeysRoute(d: { keys: Pick<BiscuitKeyManager, 'document'>; cacheSeconds: number }): Route {
  return {
    method: 'GET', path: '/oauth2/biscuit-keys',
    handler(ctx) { sendJson(ctx.res, 200, d.keys.document(), { cache: `public, max-age=${d.cacheSeconds}` }); },
  };
}

function raw(privateKey: KeyObject): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const pub = createPublicKey(privateKey);
  return {
    privateKey: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(-32)),
    publicKey: new Uint8Array(pub.export({ type: 'spki', format: 'der' }).subarray(-32)),
  };
}

function toRecord(k: BiscuitSigningKey): OAuthKeyRecord {
  // SPKI DER like the token-signing keys: Ed25519 SPKI is a fixed 12-byte prefix + the raw key.
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(k.publicKey)]);
  return { kid: k.kid, alg: BISCUIT_KEY_ALG, notAfter: Math.floor(k.notAfter / 1000), publicKey: new Uint8Array(spki) };
}

const iso = (ms: number) => new Date(ms).toISOString();
