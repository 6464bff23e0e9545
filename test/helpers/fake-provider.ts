import { generateKeyPairSync, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors, type JWK } from 'jose';
import { TrustDomain, SpiffeId } from '../../spiffe/id.ts';
import { parseSelector, selectorSet, selectorsSubsetOf, type Selector } from '../../spiffe/selector.ts';
import { cleanAgentClaims, hasAgentClaims, type AgentClaims } from '../../spiffe/agent-claims.ts';
import { JwtSvidError } from '../../spiffe/errors.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import { createLeafIssuer, type LeafIssuer } from '../../spiffe/x509svid/template.ts';
import type {
  AttestedWorkload, IdentityProvider, WorkloadJwtSvid, WorkloadX509Svid,
} from '../../node-agent/workload-api/provider.ts';

/** One registration entry, as tests describe it. */
export interface FakeEntry {
  id: string;
  spiffeId: string;
  /** "type:value" strings; the entry matches a caller holding all of them. */
  selectors: string[];
  /** Agent metadata: when set, X.509-SVIDs are minted per workload instance. */
  agent?: Omit<AgentClaims, 'agent_instance_id'>;
  hint?: string;
}

interface Entry { id: string; spiffeId: SpiffeId; selectors: Selector[]; agent: AgentClaims; hint: string }

export interface FakeProviderOptions {
  trustDomain?: string;
  x509TtlMs?: number;
  jwtTtlMs?: number;
  now?: () => number;
}

interface Ca { certificate: Uint8Array; privateKey: KeyObject; issue: LeafIssuer }

/**
 * A small, real IdentityProvider over in-memory entries: it mints genuine
 * X.509-SVIDs (spiffe/ DER-template issuer under a real CA) and ES256 JWT-SVIDs,
 * serves SPIFFE bundles, validates JWT-SVIDs, and fires onChange on every change.
 * Tests add/remove/update entries and rotate SVIDs, CA or JWT key at will.
 */
export class FakeIdentityProvider implements IdentityProvider {
  readonly trustDomain: TrustDomain;
  /** X.509-SVIDs minted so far (tests assert sharing vs per-instance minting). */
  minted = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly svids = new Map<string, Promise<WorkloadX509Svid>>();
  private readonly listeners = new Set<() => void>();
  private readonly opts: Required<FakeProviderOptions>;
  private ca!: Ca;
  private jwtKey!: { kid: string; privateKey: KeyObject; publicJwk: JWK };
  private generation = 0;
  private bundleSequence = 0;

  private constructor(opts: FakeProviderOptions) {
    this.opts = { trustDomain: 'example.org', x509TtlMs: 3_600_000, jwtTtlMs: 300_000, now: Date.now, ...opts };
    this.trustDomain = TrustDomain.parse(this.opts.trustDomain);
  }

  static async create(opts: FakeProviderOptions = {}): Promise<FakeIdentityProvider> {
    const p = new FakeIdentityProvider(opts);
    p.ca = await p.newCa();
    p.jwtKey = p.newJwtKey();
    return p;
  }

  // --- test controls -------------------------------------------------------

  addEntry(e: FakeEntry): void {
    this.entries.set(e.id, {
      id: e.id,
      spiffeId: SpiffeId.parse(e.spiffeId),
      selectors: e.selectors.map(parseSelector),
      agent: cleanAgentClaims(e.agent),
      hint: e.hint ?? '',
    });
    this.fire();
  }

  updateEntry(id: string, patch: Partial<Omit<FakeEntry, 'id'>>): void {
    const cur = this.entries.get(id);
    if (!cur) throw new Error(`no entry ${id}`);
    this.dropSvidsOf(id);
    this.addEntry({
      id,
      spiffeId: patch.spiffeId ?? cur.spiffeId.toString(),
      selectors: patch.selectors ?? cur.selectors.map((s) => `${s.type}:${s.value}`),
      agent: patch.agent ?? cur.agent,
      hint: patch.hint ?? cur.hint,
    });
  }

  removeEntry(id: string): void {
    if (!this.entries.delete(id)) throw new Error(`no entry ${id}`);
    this.dropSvidsOf(id);
    this.fire();
  }

  /** Re-mints every X.509-SVID (what the agent does at half-life). */
  rotateSvids(): void {
    this.generation++;
    this.svids.clear();
    this.fire();
  }

  /** New CA: new bundle and re-minted SVIDs. */
  async rotateCa(): Promise<void> {
    this.ca = await this.newCa();
    this.rotateSvids();
  }

  rotateJwtKey(): void {
    this.jwtKey = this.newJwtKey();
    this.fire();
  }

  get caCertificate(): Uint8Array { return this.ca.certificate; }

  // --- IdentityProvider ----------------------------------------------------

  hasIdentity(w: AttestedWorkload): boolean {
    return this.matching(w).length > 0;
  }

  async x509Svids(w: AttestedWorkload): Promise<WorkloadX509Svid[]> {
    return Promise.all(this.matching(w).map((e) => this.svidFor(e, w)));
  }

  async jwtSvids(w: AttestedWorkload, audience: string[], spiffeId?: string): Promise<WorkloadJwtSvid[]> {
    const now = this.opts.now();
    const expiresAt = now + this.opts.jwtTtlMs;
    const out: WorkloadJwtSvid[] = [];
    for (const e of this.matching(w)) {
      if (spiffeId !== undefined && e.spiffeId.toString() !== spiffeId) continue;
      const claims = hasAgentClaims(e.agent) ? { ...e.agent, agent_instance_id: w.instanceId } : {};
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: this.jwtKey.kid, typ: 'JWT' })
        .setSubject(e.spiffeId.toString())
        .setAudience(audience)
        .setIssuedAt(Math.floor(now / 1000))
        .setExpirationTime(Math.floor(expiresAt / 1000))
        .sign(this.jwtKey.privateKey);
      out.push({ spiffeId: e.spiffeId.toString(), token, hint: e.hint, expiresAt });
    }
    return out;
  }

  x509Bundles(): Map<string, Uint8Array[]> {
    return new Map([[this.trustDomain.idString, [this.ca.certificate]]]);
  }

  jwtBundles(): Map<string, Uint8Array> {
    const jwks = {
      keys: [{ ...this.jwtKey.publicJwk, kid: this.jwtKey.kid, use: 'jwt-svid' }],
      spiffe_sequence: this.bundleSequence,
    };
    return new Map([[this.trustDomain.idString, Buffer.from(JSON.stringify(jwks))]]);
  }

  async validateJwtSvid(token: string, audience: string): Promise<{ spiffeId: string; claims: Record<string, unknown> }> {
    try {
      const { payload } = await jwtVerify(token, createPublicKey({ key: this.jwtKey.publicJwk, format: 'jwk' }), {
        algorithms: ['ES256'], audience, requiredClaims: ['sub', 'exp', 'aud'], currentDate: new Date(this.opts.now()),
      });
      return { spiffeId: SpiffeId.parse(payload.sub!).toString(), claims: payload as Record<string, unknown> };
    } catch (e) {
      if (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'aud') {
        throw new JwtSvidError('ERR_JWTSVID_AUDIENCE', 'audience_mismatch', `JWT-SVID audience does not include "${audience}"`, { cause: e });
      }
      if (e instanceof joseErrors.JWTExpired) throw new JwtSvidError('ERR_JWTSVID_EXPIRED', 'expired', 'JWT-SVID has expired', { cause: e });
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) throw new JwtSvidError('ERR_JWTSVID_UNTRUSTED', 'bad_signature', 'JWT-SVID signature is not trusted', { cause: e });
      throw new JwtSvidError('ERR_JWTSVID_INVALID', 'malformed', `JWT-SVID is invalid: ${(e as Error).message}`, { cause: e });
    }
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- internals -----------------------------------------------------------

  private matching(w: AttestedWorkload): Entry[] {
    const have = selectorSet(w.selectors);
    return [...this.entries.values()].filter((e) => selectorsSubsetOf(e.selectors, have));
  }

  private svidFor(e: Entry, w: AttestedWorkload): Promise<WorkloadX509Svid> {
    const perInstance = hasAgentClaims(e.agent);
    const key = `${e.id}|${this.generation}|${perInstance ? w.instanceId : '*'}`;
    let svid = this.svids.get(key);
    if (!svid) {
      svid = Promise.resolve(this.mint(e, perInstance ? { ...e.agent, agent_instance_id: w.instanceId } : {}));
      this.svids.set(key, svid);
    }
    return svid;
  }

  private mint(e: Entry, claims: AgentClaims): WorkloadX509Svid {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = this.opts.now();
    const notAfter = now + this.opts.x509TtlMs;
    const leaf = this.ca.issue({
      spiffeId: e.spiffeId, publicKey, notBefore: new Date(now - 60_000), notAfter: new Date(notAfter),
      claims: hasAgentClaims(claims) ? claims : undefined,
    });
    this.minted++;
    return {
      spiffeId: e.spiffeId.toString(),
      certChain: [leaf],
      privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }),
      bundle: [this.ca.certificate],
      hint: e.hint,
      expiresAt: notAfter,
      claims,
    };
  }

  private dropSvidsOf(id: string): void {
    for (const k of [...this.svids.keys()]) if (k.startsWith(`${id}|`)) this.svids.delete(k);
  }

  private async newCa(): Promise<Ca> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = this.opts.now();
    const certificate = await createCaCertificate({
      trustDomain: this.trustDomain, publicKey, privateKey,
      notBefore: new Date(now - 60_000), notAfter: new Date(now + 24 * 3_600_000),
    });
    this.bundleSequence++;
    return { certificate, privateKey, issue: createLeafIssuer({ certificate, privateKey }) };
  }

  private newJwtKey(): { kid: string; privateKey: KeyObject; publicJwk: JWK } {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.bundleSequence++;
    return { kid: randomUUID().replaceAll('-', ''), privateKey, publicJwk: publicKey.export({ format: 'jwk' }) as JWK };
  }

  private fire(): void {
    for (const l of [...this.listeners]) l();
  }
}
