import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { TesseraError } from '../../common/errors.ts';
import { TrustDomain, type SpiffeId } from '../../spiffe/id.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { agentClaimsFromCertificate } from '../../spiffe/x509svid/claims-extension.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SigningPool } from '../../server/ca/sign-pool.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { writePem } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const td = TrustDomain.parse('example.org');
const claims = { agent_model: 'm', agent_instance_id: 'inst_abcdefghijklmnopqrstuv' };

async function setup(t: ExecutionContext, threads: number) {
  const dir = tempDir(t);
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3') });
  t.teardown(() => store.close());
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 300, store, clock: systemClock, logger: silentLogger });
  const pool = SigningPool.start(threads);
  t.teardown(() => pool.close());
  const pooled = new SvidSigner(ca, systemClock);
  pooled.pool = pool;
  return { dir, ca, pooled, plain: new SvidSigner(ca, systemClock) };
}

async function csrFor(id: SpiffeId | undefined): Promise<Uint8Array> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return createCsr(privateKey, publicKey, id);
}

test('SVIDs signed on worker threads verify with openssl -x509_strict and carry the requested fields', async (t) => {
  const { dir, ca, pooled } = await setup(t, 2);
  const ids = Array.from({ length: 24 }, (_, i) => td.id('pool', `w${i}`));
  const csrs = await Promise.all(ids.map((id) => csrFor(id)));
  const out = await Promise.all(ids.map((id, i) => pooled.signCsr({ spiffeId: id, csr: csrs[i]!, ttlSeconds: 600, dnsNames: ['svc.local'], claims, expectUriSan: id.toString() })));
  const caFile = writePem(dir, 'ca.pem', ca.active().certificate);
  const serials = new Set<string>();
  for (const [i, s] of out.entries()) {
    const leaf = readCertificate(s.chain[0]!);
    t.deepEqual(leaf.uris, [ids[i]!.toString()]);
    t.deepEqual(leaf.dnsNames, ['svc.local']);
    t.deepEqual(agentClaimsFromCertificate(s.chain[0]!), claims);
    t.is(Buffer.from(leaf.serial).toString('hex').replace(/^0+/, ''), s.serial);
    serials.add(s.serial);
    const pem = writePem(dir, `leaf${i}.pem`, s.chain[0]!);
    t.regex(execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', caFile, pem], { encoding: 'utf8' }), /: OK/);
  }
  t.is(serials.size, ids.length);
});

test('a bad CSR is InvalidArgument and a CSR naming another ID is PermissionDenied, with or without the pool', async (t) => {
  const { pooled, plain } = await setup(t, 1);
  const id = td.id('pool', 'a');
  const good = await csrFor(id);
  const forged = Uint8Array.from(good);
  forged[forged.length - 5] ^= 0x01; // inside the signature
  const other = await csrFor(td.id('pool', 'b'));
  for (const signer of [pooled, plain]) {
    const bad = await t.throwsAsync(signer.signCsr({ spiffeId: id, csr: forged, ttlSeconds: 600, field: 'params.csr' }));
    t.true(bad instanceof TesseraError);
    t.is((bad as TesseraError).code, 'ERR_CSR_INVALID');
    t.regex(bad!.message, /params\.csr/);
    const wrong = await t.throwsAsync(signer.signCsr({ spiffeId: id, csr: other, ttlSeconds: 600, expectUriSan: id.toString() }));
    t.is((wrong as TesseraError).code, 'ERR_CSR_ID_MISMATCH');
    // No URI SAN at all is accepted: the ID comes from the entry, not the CSR.
    const ok = await signer.signCsr({ spiffeId: id, csr: await csrFor(undefined), ttlSeconds: 600, expectUriSan: id.toString() });
    t.deepEqual(readCertificate(ok.chain[0]!).uris, [id.toString()]);
  }
});

test('one bad request in a batch fails alone', async (t) => {
  const { pooled } = await setup(t, 2);
  const ids = Array.from({ length: 8 }, (_, i) => td.id('pool', `b${i}`));
  const csrs = await Promise.all(ids.map((id) => csrFor(id)));
  csrs[3] = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00);
  const out = await Promise.allSettled(ids.map((id, i) => pooled.signCsr({ spiffeId: id, csr: csrs[i]!, ttlSeconds: 600 })));
  t.deepEqual(out.map((o) => o.status), ids.map((_, i) => (i === 3 ? 'rejected' : 'fulfilled')));
});
