/**
 * WIT-SVID + Workload Proof Token operations per second vs raw ES256 signature
 * operations (node:crypto, pre-imported P-256 keys), in the same run, interleaved:
 *
 *   sign side:   signWitSvid (issuer)          | createWorkloadProofToken (per request)  vs raw ES256 sign
 *   verify side: verifyWitSvid                 | WIT + WPT for a request (both signatures,
 *                every check, jti replay cache)                                           vs raw ES256 verify
 *
 * Rates are per second of this process's CPU time (the machine is shared), rounds are
 * short and paired, the ratio is the median of per-round ratios.
 *
 *   node --import tsx bench/wit-svid.ts [--n 1000] [--rounds 9]
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { SpiffeId, TrustDomain } from '../spiffe/id.ts';
import { WitBundle, WitBundleSet } from '../spiffe/wit/bundle.ts';
import { parseWitSvidInsecure } from '../spiffe/wit/parse.ts';
import { JtiReplayCache } from '../spiffe/wit/replay.ts';
import { signWitSvid } from '../spiffe/wit/sign.ts';
import { verifyWitSvid } from '../spiffe/wit/verify.ts';
import { createWorkloadProofToken } from '../spiffe/wit/wpt.ts';
import { verifyWorkloadProofToken } from '../spiffe/wit/wpt-verify.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const N = arg('n', 1000), ROUNDS = arg('rounds', 9);

const td = TrustDomain.parse('example.org');
const id = SpiffeId.parse('spiffe://example.org/agents/researcher');
const issuer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const workload = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const bundles = new WitBundleSet([new WitBundle(td, new Map([['wit-1', issuer.publicKey]]))]);
const claims = { agent_model: 'claude-sonnet-4', agent_provider: 'anthropic', agent_version: '2025-05', agent_instance_id: 'inst_AAAAAAAAAAAAAAAAAAAAAA' };
const mintWit = () => signWitSvid({
  id, confirmationKey: workload.publicKey, confirmationAlg: 'ES256', expiresAt: new Date(Date.now() + 1_800_000), claims,
  key: { kid: 'wit-1', privateKey: issuer.privateKey, alg: 'ES256' },
});
const token = mintWit();
const wit = { ...parseWitSvidInsecure(token), privateKey: workload.privateKey };
const URI = 'https://billing.internal/invoices/42';
const proofs = () => Array.from({ length: N }, () => createWorkloadProofToken({ wit, method: 'POST', uri: URI, accessToken: 'at-1' }));
const input = Buffer.from('x'.repeat(token.split('.').slice(0, 2).join('.').length));
const rawSig = sign('sha256', input, { key: issuer.privateKey, dsaEncoding: 'ieee-p1363' });

function cpuRate(fn: (i: number) => void): number {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) fn(i);
  const d = process.cpuUsage(start);
  return N / ((d.user + d.system) / 1e6);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: Record<string, number[]> = { rawSign: [], rawVerify: [], witSign: [], wptCreate: [], witVerify: [], requestVerify: [] };
for (let r = 0; r < ROUNDS; r++) {
  rows.rawSign!.push(cpuRate(() => sign('sha256', input, { key: issuer.privateKey, dsaEncoding: 'ieee-p1363' })));
  rows.witSign!.push(cpuRate(() => mintWit()));
  rows.wptCreate!.push(cpuRate(() => createWorkloadProofToken({ wit, method: 'POST', uri: URI, accessToken: 'at-1' })));
  rows.rawVerify!.push(cpuRate(() => verify('sha256', input, { key: issuer.publicKey, dsaEncoding: 'ieee-p1363' }, rawSig)));
  rows.witVerify!.push(cpuRate(() => verifyWitSvid(token, bundles)));
  const ps = proofs();
  const replay = new JtiReplayCache();
  rows.requestVerify!.push(cpuRate((i) => {
    const v = verifyWitSvid(token, bundles);
    verifyWorkloadProofToken(ps[i]!, v, { method: 'POST', audiences: [URI], accessToken: 'at-1' }, { replay });
  }));
}
const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, Math.round(median(v))]));
const out = {
  n: N, rounds: ROUNDS, per_cpu_second: m,
  ratios: {
    wit_sign_vs_raw_sign: +(m.witSign! / m.rawSign!).toFixed(2),
    wpt_create_vs_raw_sign: +(m.wptCreate! / m.rawSign!).toFixed(2),
    wit_verify_vs_raw_verify: +(m.witVerify! / m.rawVerify!).toFixed(2),
    // Two signatures are checked per request: 0.5 is the ceiling.
    request_verify_vs_raw_verify: +(m.requestVerify! / m.rawVerify!).toFixed(2),
  },
};
console.log(JSON.stringify(out, null, 2));
