import { parentPort } from 'node:worker_threads';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseCsr } from '../../spiffe/x509svid/csr.ts';
import { createLeafIssuer, type LeafIssuer } from '../../spiffe/x509svid/template.ts';
import type { PoolJob, PoolReply, PoolItemResult } from './sign-pool.ts';

/**
 * One signing thread of SigningPool: CSR check (key import + proof-of-possession
 * signature) and leaf issuance, the whole CPU cost of an X.509-SVID, off the event
 * loop. Keeps one leaf issuer per CA slot it has been sent (the DER template is built
 * once per slot, as on the main thread).
 */
const issuers = new Map<string, LeafIssuer>();
const MAX_SLOTS = 4; // active + prepared + a couple of old ones across a rotation

function handle(job: PoolJob): PoolReply {
  if (job.ca) {
    issuers.set(job.slot, createLeafIssuer(job.ca));
    while (issuers.size > MAX_SLOTS) issuers.delete(issuers.keys().next().value!);
  }
  const issue = issuers.get(job.slot);
  const results = job.items.map((it): PoolItemResult => {
    let spki: Uint8Array;
    let uriSans: string[];
    try {
      ({ spki, uriSans } = parseCsr(it.csr));
    } catch (e) {
      return { error: 'csr', message: (e as Error).message };
    }
    if (it.expectUriSan !== undefined && uriSans.length > 0 && (uriSans.length !== 1 || uriSans[0] !== it.expectUriSan)) {
      return { error: 'id_mismatch', message: uriSans.join(', ') };
    }
    if (!issue) return { error: 'issue', message: `CA slot ${job.slot} was never sent to this worker` };
    try {
      const leaf = issue({
        spiffeId: SpiffeId.parse(it.spiffeId), publicKey: spki, notBefore: new Date(it.notBefore), notAfter: new Date(it.notAfter),
        dnsNames: it.dnsNames, ipAddresses: it.ipAddresses, claims: it.claims, serial: it.serial,
      });
      // An exact-size copy: the encoder's buffer may be a view of a shared pool.
      return { leaf: new Uint8Array(leaf), uriSans };
    } catch (e) {
      return { error: 'issue', message: (e as Error).message };
    }
  });
  return { id: job.id, results };
}

parentPort!.on('message', (job: PoolJob) => {
  const reply = handle(job);
  const transfer = reply.results.flatMap((r) => ('leaf' in r ? [r.leaf.buffer as ArrayBuffer] : []));
  parentPort!.postMessage(reply, transfer);
});
