/**
 * A resource server's verifier as its own process (e2e-biscuit.test.ts): fed by the
 * server's revocation feed over mTLS with its own SVID, Biscuit root keys from
 * /oauth2/biscuit-keys. Reads `{"id", "token", "peer", "afterSeq"?}` lines on stdin, prints one
 * `{"ok": true, "actors": [...]}` or `{"ok": false, "code": "..."}` line per token.
 */
import { createInterface } from 'node:readline';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { RemoteBiscuitKeys } from '../../spiffe/biscuit/keys.ts';
import { verifyBiscuit } from '../../spiffe/biscuit/verify.ts';
import { RevocationFeed } from '../../spiffe/delegation/revocation-feed.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';

const cfg = JSON.parse(process.env.VERIFIER_CONFIG!) as { issuer: string; td: string; authorities: string[]; chain: string[]; key: string; audience: string };
const td = TrustDomain.parse(cfg.td);
const bundles = new BundleSet([new SpiffeBundle(td, { x509Authorities: cfg.authorities.map((b) => new Uint8Array(Buffer.from(b, 'base64'))) })]);
const svid = parseX509Svid(cfg.chain.map((b) => new Uint8Array(Buffer.from(b, 'base64'))), new Uint8Array(Buffer.from(cfg.key, 'base64')));
const source = new StaticX509Source({ svid, bundles });
const feed = new RevocationFeed({ issuer: cfg.issuer, source, bundleSource: bundles, trustDomain: td, backoff: { initialMs: 50, maxMs: 500 } });
const rootKeys = new RemoteBiscuitKeys({ issuer: cfg.issuer, bundleSource: bundles, trustDomain: td });
await rootKeys.refresh();
await feed.ready();
console.log(JSON.stringify({ msg: 'verifier ready' }));

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { token, peer, id, afterSeq } = JSON.parse(line) as { token: string; peer: string; id: string; afterSeq?: number };
  // A condition, not a delay: the feed has applied the revocation the test just wrote.
  while (afterSeq !== undefined && (feed.seq ?? 0) < afterSeq) await new Promise((r) => setTimeout(r, 10));
  try {
    const t = await verifyBiscuit(token, { rootKeys, audience: cfg.audience, peerId: peer, revocations: feed });
    console.log(JSON.stringify({ id, ok: true, actors: t.actors.map((a) => a.id.toString()) }));
  } catch (e) {
    console.log(JSON.stringify({ id, ok: false, code: (e as { code?: string }).code, message: (e as Error).message }));
  }
}
