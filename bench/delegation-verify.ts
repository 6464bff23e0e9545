/**
 * Delegated-token validations per second: verifyDelegatedToken (typ/alg/kid header
 * checks, ES256 signature, iss/exp/nbf/aud, sub + 2-deep act chain parsed into SPIFFE
 * IDs, cnf binding against the peer certificate, revocation matching against 200 live
 * records, required scopes) vs a raw ES256 verify of the same token with node:crypto
 * and a pre-imported KeyObject (split, two Buffer decodes, crypto.verify; nothing
 * else), in the same run, interleaved rounds. Goal: ratio >= 0.8.
 *
 * The machine is shared, so rates are per second of this process's CPU time
 * (process.cpuUsage: time spent descheduled by other load does not count), rounds
 * are short and paired, and the ratio is the median of the per-round ratios.
 *
 *   node --import tsx bench/delegation-verify.ts [--n 1000] [--rounds 21]
 */
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createStaticDelegationKeys } from '../spiffe/delegation/keys.ts';
import { RevocationIndex } from '../spiffe/delegation/revocation-index.ts';
import { verifyDelegatedToken } from '../spiffe/delegation/verify.ts';
import type { VerifyDelegatedTokenOptions } from '../spiffe/delegation/types.ts';
import { makeRootCa, makeSvid } from '../test/helpers/pki.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const N = arg('n', 1000), ROUNDS = arg('rounds', 21);

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ca = await makeRootCa('example.org');
const actorCert = makeSvid(ca, 'agents/sub-agent').leaf;
const now = Math.floor(Date.now() / 1000);
const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
const header = { alg: 'ES256', typ: 'at+jwt', kid: 'oauth-1' };
const payload = {
  iss: 'https://tessera.example.org:8443', sub: 'https://idp.example.org#alice', aud: ['https://tools.example.org'],
  scope: 'files:read review:post', exp: now + 3600, iat: now, nbf: now,
  jti: 'tok_AAAAAAAAAAAAAAAAAAAAAA', client_id: 'spiffe://example.org/agents/sub-agent', grant_id: 'grt_AAAAAAAAAAAAAAAAAAAAAA',
  chain: ['tok_BBBBBBBBBBBBBBBBBBBBBB'], subject: { iss: 'https://idp.example.org', sub: 'alice', groups: ['eng'] },
  act: {
    sub: 'spiffe://example.org/agents/sub-agent', agent_model: 'claude-sonnet-4', agent_provider: 'anthropic', agent_version: '2025-05', agent_instance_id: 'inst_1',
    act: { sub: 'spiffe://example.org/agents/researcher', agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' },
  },
  cnf: { 'x5t#S256': createHash('sha256').update(actorCert).digest('base64url') },
};
const input = `${b64(header)}.${b64(payload)}`;
const token = `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;

const index = new RevocationIndex();
for (let i = 0; i < 200; i++) index.add({ seq: i, kind: (['grant', 'jti', 'subject', 'actor'] as const)[i % 4], value: `v${i}`, at: now, expiresAt: now + 600 });
const opts: VerifyDelegatedTokenOptions = {
  issuer: payload.iss, audience: 'https://tools.example.org', keys: createStaticDelegationKeys([{ kid: 'oauth-1', key: publicKey }]),
  requiredScopes: ['files:read'], peerCertificate: actorCert, requireBinding: true,
  revocations: { revocationOf: (t) => index.match(t, Date.now() / 1000) },
};

function raw(): void {
  const d = token.lastIndexOf('.');
  if (!verify('sha256', Buffer.from(token.slice(0, d), 'latin1'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(token.slice(d + 1), 'base64url'))) throw new Error('raw verify failed');
}

const cpuSeconds = (since: NodeJS.CpuUsage) => { const u = process.cpuUsage(since); return (u.user + u.system) / 1e6; };

async function rateSdk(): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await verifyDelegatedToken(token, opts);
  return N / cpuSeconds(t0);
}
function rateRaw(): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) raw();
  return N / cpuSeconds(t0);
}

await verifyDelegatedToken(token, opts); // sanity: the token is valid
rateRaw(); await rateSdk(); // warm-up
const rawRates: number[] = [], sdkRates: number[] = [];
for (let r = 0; r < ROUNDS; r++) { rawRates.push(rateRaw()); sdkRates.push(await rateSdk()); }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rr = median(rawRates), s = median(sdkRates);
const ratio = median(rawRates.map((x, i) => sdkRates[i]! / x));
console.log(`node ${process.version}; ${N} verifications x ${ROUNDS} rounds, ES256, 2-deep act chain, cnf bound, 200 revocation records`);
console.log(`raw node:crypto ES256 verify : ${rr.toFixed(0)}/s per CPU-second, median`);
console.log(`verifyDelegatedToken        : ${s.toFixed(0)}/s per CPU-second, median`);
console.log(`ratio SDK / raw             : ${ratio.toFixed(2)} median of paired rounds (min ${Math.min(...rawRates.map((x, i) => sdkRates[i]! / x)).toFixed(2)}, goal >= 0.80)`);
