/**
 * The demo's WIT-SVID step (docs/wit-svid.md): the assistant fetches a WIT-SVID (a
 * `wit+jwt` binding a key pair of its own to its SPIFFE ID) from the Workload API and
 * calls a plain node:http server with a Workload Proof Token for that one request; the
 * same proof sent again is refused as a replay.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getWitPeer, witMiddleware, workloadProofHeaders, WITSource } from '../../spiffe/wit/index.ts';

export interface WitDemo {
  /** The node agent's Workload API socket path. */
  socket: string;
  /** The workload's SPIFFE ID (an entry for the demo's uid). */
  spiffeId: string;
  detail(text: string): void;
}

export async function showWitSvid(d: WitDemo): Promise<void> {
  const wit = await WITSource.create({ address: `unix://${d.socket}`, spiffeId: d.spiffeId });
  const svid = wit.getWitSvid();
  const thumb = String(svid.confirmationJwk.x ?? '').slice(0, 12);
  d.detail(`WIT-SVID for ${svid.id} (typ wit+jwt, kid ${svid.keyId}), expires ${svid.expiresAt.toISOString()}, cnf.jwk x=${thumb}...`);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mw = witMiddleware({ bundles: wit, origins: origin });
  server.on('request', (req, res) => mw(req, res, () => {
    const peer = getWitPeer(req)!;
    res.end(`hello ${peer.id} (${peer.claims.agent_model})`);
  }));
  try {
    const url = `${origin}/tools/search`;
    const headers = workloadProofHeaders({ wit: svid, method: 'POST', uri: url });
    const send = async () => { const r = await fetch(url, { method: 'POST', headers }); return { status: r.status, text: await r.text() }; };
    const first = await send();
    if (first.status !== 200) throw new Error(`WIT-SVID call refused: ${first.status} ${first.text}`);
    d.detail(`POST ${url} with Workload-Identity-Token + Workload-Proof-Token: ${first.status} "${first.text}"`);
    const again = await send();
    const problem = JSON.parse(again.text) as { code?: string; detail?: string };
    if (again.status === 200 || problem.code !== 'ERR_WPT_REPLAYED') throw new Error(`replayed proof not refused: ${again.status} ${again.text}`);
    d.detail(`the same proof again: ${again.status} ${problem.code}: ${problem.detail ?? ''}`);
  } finally {
    server.closeAllConnections();
    server.close();
    await wit.close();
  }
}
