/**
 * Issuance throughput of the server's signing path, next to Node's raw ECDSA P-256
 * signing rate measured in the same run (so machine load cancels out in the ratio).
 *
 *   X.509: CSR in (parsed, signature checked) -> DER chain out, via SvidSigner.signX509
 *          (one at a time), and as BatchSignX509SVID does it (64 in flight, CSR check
 *          and signature on the libuv threadpool)
 *   JWT:   SvidSigner.mintJwt (ES256, node:crypto), sequential and 64 in flight
 *   raw:   crypto.sign('sha256', <tbs-sized buffer>, P-256 key), sequential
 *
 * Run: npm run bench:issuance   (optional: BENCH_SECONDS=3)
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { createCsr } from '../spiffe/x509svid/csr.ts';
import { SqliteDatastore } from '../server/datastore/sqlite.ts';
import { CaManager } from '../server/ca/manager.ts';
import { SvidSigner } from '../server/ca/signer.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

async function rate(label: string, fn: () => unknown | Promise<unknown>, batch = 1): Promise<number> {
  // Warm up (JIT, key caches), then count completed operations for SECONDS.
  for (let i = 0; i < 200; i++) await fn();
  let n = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    if (batch === 1) { await fn(); n++; }
    else { await Promise.all(Array.from({ length: batch }, fn)); n += batch; }
  }
  const r = n / ((performance.now() - start) / 1000);
  console.log(`  ${label.padEnd(48)} ${r.toFixed(0).padStart(8)} /s`);
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-'));
try {
  const td = TrustDomain.parse('example.org');
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3') });
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 300, store, clock: systemClock, logger: silentLogger });
  const signer = new SvidSigner(ca, systemClock);

  // Agent-side work (key + CSR generation) is not part of the server path: prepare CSRs up front.
  const csrs: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    csrs.push(await createCsr(privateKey, publicKey, td.id('bench', `w${i}`)));
  }
  const ids = csrs.map((_, i) => td.id('bench', `w${i}`));
  const claims = { agent_model: 'claude-x', agent_provider: 'anthropic', agent_version: '4', agent_instance_id: 'inst_abcdefghijklmnopqrstuv' };

  const rawKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const tbs = randomBytes(420); // about the size of a leaf TBSCertificate
  console.log(`issuance bench (${SECONDS}s per measurement, Node ${process.version})`);

  const raw1 = await rate('raw crypto.sign ECDSA P-256', () => sign('sha256', tbs, rawKey));
  let i = 0;
  const x509 = await rate('X.509-SVID: CSR in -> DER chain out', () => {
    const k = i++ % csrs.length;
    return signer.signX509({ spiffeId: ids[k]!, csr: csrs[k]!, ttlSeconds: 3600, dnsNames: ['svc.local'], claims });
  });
  const spkis = await Promise.all(csrs.map(async (c) => (await SvidSigner.readCsrAsync(c)).spki));
  let l = 0;
  const leafOnly = await rate('X.509-SVID leaf from a checked key (no CSR)', () => {
    const k = l++ % csrs.length;
    return signer.signX509({ spiffeId: ids[k]!, publicKey: spkis[k]!, ttlSeconds: 3600, dnsNames: ['svc.local'], claims });
  });
  let v = 0;
  const csrOnly = await rate('CSR parse + signature check only', () => SvidSigner.readCsr(csrs[v++ % csrs.length]!));
  let j = 0;
  const batch = await rate('X.509-SVID: same, 64 per batch (threadpool)', () => {
    const k = j++ % csrs.length;
    return SvidSigner.readCsrAsync(csrs[k]!).then((c) => signer.signX509Async({ spiffeId: ids[k]!, publicKey: c.spki, ttlSeconds: 3600, dnsNames: ['svc.local'], claims }));
  }, 64);
  const jwtSeq = await rate('JWT-SVID mint (sequential)', () => signer.mintJwt({ spiffeId: ids[0]!, audience: ['svc'], ttlSeconds: 300, claims }));
  const jwtPar = await rate('JWT-SVID mint (64 in flight)', () => signer.mintJwt({ spiffeId: ids[0]!, audience: ['svc'], ttlSeconds: 300, claims }), 64);
  const raw2 = await rate('raw crypto.sign ECDSA P-256 (again)', () => sign('sha256', tbs, rawKey));
  const raw = (raw1 + raw2) / 2;

  console.log('');
  console.log(`  raw ECDSA P-256 sign (mean of 2)              ${raw.toFixed(0).padStart(8)} /s`);
  console.log(`  ratio X.509-SVID issued / raw sign            ${(x509 / raw).toFixed(2).padStart(8)}   (goal >= 0.5)`);
  console.log(`  ratio X.509-SVID issued (batched) / raw sign   ${(batch / raw).toFixed(2).padStart(8)}`);
  console.log(`  ratio leaf from a checked key / raw sign      ${(leafOnly / raw).toFixed(2).padStart(8)}`);
  console.log(`  ratio CSR check alone / raw sign              ${(csrOnly / raw).toFixed(2).padStart(8)}   (one ECDSA verify: the ceiling for CSR-in)`);
  console.log(`  ratio JWT-SVID minted (sequential) / raw sign ${(jwtSeq / raw).toFixed(2).padStart(8)}   (goal >= 0.5)`);
  console.log(`  ratio JWT-SVID minted (64 in flight) / raw    ${(jwtPar / raw).toFixed(2).padStart(8)}`);
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
