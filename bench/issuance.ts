/**
 * Issuance throughput of the server's signing paths against the physical limit of the
 * crypto they must do, every figure measured in the same run, interleaved: each round
 * runs a ~20 ms slice of every case in turn, so load on a shared machine hits all cases
 * alike and cancels out in the ratios, and each slice pays for its own garbage only
 * (a minor GC before it, untimed, and one after it, timed). docs/performance.md.
 *
 *   CSR path  SvidSigner.signX509({ csr }): CSR parsed, key imported, proof of possession
 *             verified, leaf encoded and signed. Limit per core = 1 / (t_import + t_verify
 *             + t_sign): import of a P-256 point (JWK, the fastest form; SPKI DER shown
 *             too), the first verify with that fresh key (what every CSR pays; a warm,
 *             reused key is shown for reference), one ECDSA P-256 signature.
 *   JWT       SvidSigner.mintJwt against a raw ES256 sign (ieee-p1363) of a JWT-sized input.
 *   cores     SvidSigner.signCsr on a SigningPool of 1..N worker threads (64 in flight),
 *             and today's libuv-threadpool path, against N x the single-core rate.
 *
 * Run: npm run bench:issuance   (BENCH_SECONDS=2: timed seconds per case)
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { createCsr } from '../spiffe/x509svid/csr.ts';
import { SqliteDatastore } from '../server/datastore/sqlite.ts';
import { CaManager } from '../server/ca/manager.ts';
import { SigningPool } from '../server/ca/sign-pool.ts';
import { SvidSigner } from '../server/ca/signer.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

export interface Case {
  /** Operations per slice at warm-up; then resized so a slice lasts about SLICE_MS. With `batch`: operations in flight. */
  per: number;
  /** Untimed work before a slice of `count` operations (e.g. importing the keys it verifies with). */
  prepare?: (count: number) => void;
  op: (i: number) => unknown;
  /** When set, a slice awaits batches of `per` of these in flight at once. */
  batch?: (i: number) => Promise<unknown>;
}

const SLICE_MS = 20;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (o: { type: 'minor' | 'major' }) => void;

/**
 * Rates (/s) of every case, in interleaved slices until each has about `seconds` of
 * timed work. Each slice starts after an untimed minor GC (the previous case's garbage
 * is not charged to it) and ends with a timed one (its own garbage is): without this a
 * cheap case running after key imports paid for their KeyObjects' collection.
 */
export async function interleaved(cases: Record<string, Case>, seconds: number, sliceMs = SLICE_MS): Promise<Record<string, number>> {
  const names = Object.keys(cases);
  const time = Object.fromEntries(names.map((n) => [n, 0]));
  const ops = Object.fromEntries(names.map((n) => [n, 0]));
  const count = Object.fromEntries(names.map((n) => [n, 1])); // slices of `per` ops (or batches of `per`)
  let k = 0;
  const slice = async (name: string): Promise<{ ms: number; n: number }> => {
    const c = cases[name]!;
    const n = c.batch ? c.per * count[name]! : count[name]! * c.per;
    c.prepare?.(n);
    gc({ type: 'minor' });
    const t0 = performance.now();
    if (c.batch) for (let b = 0; b < count[name]!; b++) await Promise.all(Array.from({ length: c.per }, () => c.batch!(k++)));
    else for (let i = 0; i < n; i++) await c.op(k++);
    gc({ type: 'minor' });
    return { ms: performance.now() - t0, n };
  };
  for (let w = 0; w < 3; w++) {
    for (const name of names) {
      const { ms, n } = await slice(name);
      // Resize so a slice lasts about sliceMs: short enough to interleave, long enough that the GC and the switch amortize.
      if (w === 2) count[name] = Math.max(1, Math.min(10_000, Math.round(sliceMs / (ms / (n / cases[name]!.per)))));
    }
  }
  for (let round = 0; names.some((n) => time[n]! < seconds * 1000); round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length]!;
      const { ms, n } = await slice(name);
      time[name]! += ms;
      ops[name]! += n;
    }
  }
  return Object.fromEntries(names.map((n) => [n, (ops[n]! * 1000) / time[n]!]));
}

const us = (rate: number) => `${(1e6 / rate).toFixed(1).padStart(7)} µs`;
const line = (label: string, rate: number) => console.log(`  ${label.padEnd(52)} ${rate.toFixed(0).padStart(7)} /s ${us(rate)}`);
const ratio = (label: string, v: number, goal = '') => console.log(`  ratio ${label.padEnd(46)} ${v.toFixed(2).padStart(7)}${goal ? `   (${goal})` : ''}`);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const td = TrustDomain.parse('example.org');
    const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3') });
    const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 300, store, clock: systemClock, logger: silentLogger });
    const signer = new SvidSigner(ca, systemClock);
    const slot = ca.active();

    // Agent-side work (key + CSR generation) is not part of the server path: prepared up front.
    const N = 256;
    const csrs: Uint8Array[] = [];
    const points: { x: string; y: string }[] = [];
    const spkis: Buffer[] = [];
    const signed: { data: Buffer; sig: Buffer }[] = [];
    for (let i = 0; i < N; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      csrs.push(await createCsr(privateKey, publicKey, td.id('bench', `w${i}`)));
      const jwk = publicKey.export({ format: 'jwk' });
      points.push({ x: jwk.x!, y: jwk.y! });
      spkis.push(publicKey.export({ type: 'spki', format: 'der' }));
      const data = randomBytes(240); // about a CertificationRequestInfo
      signed.push({ data, sig: sign('sha256', data, privateKey) });
    }
    const ids = csrs.map((_, i) => td.id('bench', `w${i}`));
    const claims = { agent_model: 'claude-x', agent_provider: 'anthropic', agent_version: '4', agent_instance_id: 'inst_abcdefghijklmnopqrstuv' };
    const importJwk = (i: number) => createPublicKey({ key: { kty: 'EC', crv: 'P-256', ...points[i % N]! }, format: 'jwk' });
    const importSpki = (i: number) => createPublicKey({ key: spkis[i % N]!, format: 'der', type: 'spki' });
    const tbs = randomBytes(480); // about a leaf TBSCertificate with agent claims
    const jwtInput = Buffer.from(`${'h'.repeat(80)}.${'p'.repeat(300)}`);
    const jwtKey = slot.jwtKey.privateKey;
    const warm = importSpki(0);
    verify('sha256', signed[0]!.data, warm, signed[0]!.sig);

    // Keys imported outside the timed slice, so the slice times only their first verify.
    const PER = 32;
    let fresh: KeyObject[] = [];
    let base = 0;
    let first = 0; // the operation index the slice starts at
    const freshFrom = (imp: (i: number) => KeyObject) => (count: number) => {
      base = Math.floor(Math.random() * N);
      fresh = Array.from({ length: count }, (_, j) => imp(base + j));
      first = -1;
    };
    // Each key of the slice verifies exactly once: its first use.
    const firstVerify = (i: number) => {
      if (first < 0) first = i;
      const j = i - first;
      const s = signed[(base + j) % N]!;
      if (!verify('sha256', s.data, fresh[j]!, s.sig)) throw new Error('bench: verify failed');
    };
    const x509 = (i: number) => signer.signX509({ spiffeId: ids[i % N]!, csr: csrs[i % N]!, ttlSeconds: 3600, dnsNames: ['svc.local'], claims });

    console.log(`issuance bench: ${SECONDS}s per case, interleaved; Node ${process.version}, ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const r = await interleaved({
      sign: { per: PER, op: () => sign('sha256', tbs, slot.privateKey) },
      importJwk: { per: PER, op: importJwk },
      importSpki: { per: PER, op: importSpki },
      verifyFirstJwk: { per: PER, prepare: freshFrom(importJwk), op: firstVerify },
      verifyFirstSpki: { per: PER, prepare: freshFrom(importSpki), op: firstVerify },
      verifyWarm: { per: PER, op: (i) => verify('sha256', signed[0]!.data, warm, signed[0]!.sig) || i },
      csrPath: { per: PER, op: x509 },
      csrCheck: { per: PER, op: (i) => SvidSigner.readCsr(csrs[i % N]!) },
      leaf: { per: PER, op: (i) => signer.signX509({ spiffeId: ids[i % N]!, publicKey: spkis[i % N]!, ttlSeconds: 3600, dnsNames: ['svc.local'], claims }) },
      es256: { per: PER, op: () => sign('sha256', jwtInput, { key: jwtKey, dsaEncoding: 'ieee-p1363' }) },
      jwt: { per: PER, op: () => signer.mintJwt({ spiffeId: ids[0]!, audience: ['svc'], ttlSeconds: 300, claims }) },
    }, SECONDS);

    console.log('\nsingle core: components of the limit');
    line('raw ECDSA P-256 sign (t_sign)', r.sign!);
    line('import P-256 point as JWK (t_import)', r.importJwk!);
    line('import SPKI DER', r.importSpki!);
    line('first verify with a fresh JWK-imported key', r.verifyFirstJwk!);
    line('first verify with a fresh SPKI-imported key', r.verifyFirstSpki!);
    line('verify with a warm (reused) key', r.verifyWarm!);
    const jwkPair = 1 / r.importJwk! + 1 / r.verifyFirstJwk!;
    const spkiPair = 1 / r.importSpki! + 1 / r.verifyFirstSpki!;
    const tImportVerify = Math.min(jwkPair, spkiPair);
    const limit = 1 / (tImportVerify + 1 / r.sign!);
    const optimistic = 1 / (1 / r.importJwk! + 1 / r.verifyWarm! + 1 / r.sign!);
    console.log(`  fastest import + first verify: ${jwkPair <= spkiPair ? 'JWK' : 'SPKI DER'} (${(tImportVerify * 1e6).toFixed(1)} µs)`);
    line('limit = 1 / (t_import + t_verify(first) + t_sign)', limit);
    line('same with a warm verify (not reachable: keys are new)', optimistic);

    console.log('\nsingle core: paths');
    line('X.509-SVID: CSR in -> DER chain out', r.csrPath!);
    line('CSR parse + key import + signature check', r.csrCheck!);
    line('leaf from an already checked key', r.leaf!);
    line('raw ES256 sign (ieee-p1363, JWT-sized input)', r.es256!);
    line('JWT-SVID mint', r.jwt!);
    console.log('');
    ratio('CSR path / limit', r.csrPath! / limit, 'goal >= 0.8');
    ratio('CSR path / limit with a warm verify', r.csrPath! / optimistic);
    ratio('CSR path / raw sign', r.csrPath! / r.sign!);
    ratio('JWT-SVID mint / raw ES256 sign', r.jwt! / r.es256!, 'goal >= 0.9');

    // ---------------------------------------------------------------- every core
    const cores = availableParallelism();
    const flight = 64;
    const pools: SigningPool[] = [];
    const multi: Record<string, Case> = {
      single: { per: PER, op: x509 },
      threadpool: {
        per: flight, op: () => 0,
        batch: (i) => signer.signCsr({ spiffeId: ids[i % N]!, csr: csrs[i % N]!, ttlSeconds: 3600, dnsNames: ['svc.local'], claims }),
      },
    };
    for (let n = 1; n <= cores; n++) {
      const pool = SigningPool.start(n);
      pools.push(pool);
      const s = new SvidSigner(ca, systemClock);
      s.pool = pool;
      multi[`pool${n}`] = {
        per: flight, op: () => 0,
        batch: (i) => s.signCsr({ spiffeId: ids[i % N]!, csr: csrs[i % N]!, ttlSeconds: 3600, dnsNames: ['svc.local'], claims, expectUriSan: ids[i % N]!.toString() }),
      };
    }
    const m = await interleaved(multi, SECONDS);
    await Promise.all(pools.map((p) => p.close()));
    console.log(`\nevery core (${flight} in flight; load average now ${loadavg()[0]!.toFixed(1)} on ${cores} cores)`);
    line('CSR path on the event loop (1 core)', m.single!);
    line('libuv threadpool (readCsrAsync + signX509Async)', m.threadpool!);
    for (let n = 1; n <= cores; n++) line(`signing pool, ${n} worker thread${n > 1 ? 's' : ''}`, m[`pool${n}`]!);
    console.log('');
    for (let n = 1; n <= cores; n++) ratio(`signing pool ${n} threads / (${n} x single core)`, m[`pool${n}`]! / (n * m.single!), n > 1 ? 'goal >= 0.8' : '');
    ratio(`threadpool / (${cores} x single core)`, m.threadpool! / (cores * m.single!));
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
