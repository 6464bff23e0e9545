/**
 * A workload for test/wit/e2e-wit.test.ts, run as its own process (and uid): fetches
 * its WIT-SVID from the agent's Workload API, calls the resource server with a proof,
 * then plays the same request again. Prints one JSON line.
 *
 *   node --import tsx test/wit/workload-client.ts <socket> <url>
 */
import { WITSource } from '../../spiffe/wit/source.ts';
import { workloadProofHeaders } from '../../spiffe/wit/wpt.ts';

const [socket, url] = process.argv.slice(2) as [string, string];
const source = await WITSource.create({ address: `unix://${socket}`, timeoutMs: 60_000 });
const svid = source.getWitSvid();
const headers = workloadProofHeaders({ wit: svid, method: 'POST', uri: url });
const first = await fetch(url, { method: 'POST', headers });
const replay = await fetch(url, { method: 'POST', headers });
console.log(JSON.stringify({
  spiffe_id: svid.id.toString(), hint: svid.hint, cnf_alg: svid.confirmationAlg, key_type: svid.privateKey.asymmetricKeyType,
  agent_claims: svid.agentClaims, kid: svid.keyId,
  first: { status: first.status, body: await first.json() as unknown },
  replay: { status: replay.status, body: await replay.json() as unknown },
}));
await source.close();
