import { generateKeyPair as generateKeyPairCb, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { TrustDomain } from '../../spiffe/id.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import type { NodeAttestorAgent } from '../../attestors/node/types.ts';
import { AttestationError, TesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { AttestResult__Output } from '../../proto/gen/tessera-api/tessera/v1/AttestResult.ts';
import { fromGrpcError } from './grpc-errors.ts';
import { bundleFromWire, type TrustBundle } from './bundle.ts';
import { certInfo, chainsTo } from './cert-info.ts';
import type { AgentSvid, ServerApi } from './server-api.ts';

const generateKeyPair = promisify(generateKeyPairCb);

/** A fresh EC P-256 key pair (agent SVIDs and workload SVIDs alike). */
export async function newKeyPair(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return generateKeyPair('ec', { namedCurve: 'P-256' });
}

export interface AttestOutcome { svid: AgentSvid; bundle: TrustBundle; spiffeId: string }

/**
 * Node attestation over AgentService/Attest: params{method, payload, csr}, then one
 * `respond` per server challenge, until the result (agent SVID + bundle). The result
 * is checked before it is kept: the SVID is for our key, names an agent ID in our
 * trust domain and chains to the bundle the server sent.
 */
export async function attestAgent(p: { api: ServerApi; attestor: NodeAttestorAgent; trustDomain: TrustDomain; logger: Logger; signal?: AbortSignal }): Promise<AttestOutcome> {
  const { privateKey, publicKey } = await newKeyPair();
  const csr = await createCsr(privateKey, publicKey);
  const payload = await p.attestor.payload(p.signal);
  const call = p.api.attest();
  const onAbort = () => call.cancel();
  p.signal?.addEventListener('abort', onAbort, { once: true });
  let rounds = 0;
  try {
    const result = await new Promise<AttestResult__Output>((resolve, reject) => {
      let done = false;
      call.on('data', (msg) => {
        if (done) return;
        if (msg.step === 'challenge' && msg.challenge) {
          rounds++;
          if (!p.attestor.respond) {
            done = true; call.cancel();
            return reject(new AttestationError('internal', 'ERR_ATTEST_UNEXPECTED_CHALLENGE', `server sent a challenge, but method "${p.attestor.method}" does not answer challenges`));
          }
          p.attestor.respond(new Uint8Array(msg.challenge), p.signal).then(
            (answer) => { if (!done) call.write({ challenge_response: answer }); },
            (e) => { done = true; call.cancel(); reject(e); });
        } else if (msg.step === 'result' && msg.result) {
          done = true; call.end(); resolve(msg.result);
        }
      });
      call.on('error', (e) => { if (!done) { done = true; reject(fromGrpcError(e, 'attestation')); } });
      call.on('end', () => { if (!done) { done = true; reject(new AttestationError('unavailable', 'ERR_ATTEST_NO_RESULT', 'attestation stream ended without a result')); } });
      call.write({ params: { method: p.attestor.method, payload, csr } });
    });
    const bundle = bundleFromWire(result.bundle ?? emptyBundle(), p.trustDomain);
    const chain = result.svid_chain.map((d) => new Uint8Array(d));
    checkAgentSvid(chain, privateKey, bundle, p.trustDomain, result.spiffe_id);
    p.logger.info('agent attested', { spiffe_id: result.spiffe_id, method: p.attestor.method, challenge_rounds: rounds,
      expires_at: new Date(certInfo(chain[0]!).notAfter).toISOString() });
    return { svid: { key: privateKey, chain }, bundle, spiffeId: result.spiffe_id };
  } catch (e) {
    throw e instanceof TesseraError ? e : new AttestationError('internal', 'ERR_ATTEST', `attestation failed: ${(e as Error).message}`, { cause: e });
  } finally {
    p.signal?.removeEventListener('abort', onAbort);
  }
}

/** The agent SVID must be for `key`, name an agent ID of `td` (and `expectedId` when given) and chain to the bundle. */
export function checkAgentSvid(chain: Uint8Array[], key: KeyObject, bundle: TrustBundle, td: TrustDomain, expectedId?: string): void {
  const leaf = chain[0];
  if (!leaf) throw new AttestationError('internal', 'ERR_AGENT_SVID_INVALID', 'server returned an empty agent SVID chain');
  const x = new X509Certificate(leaf);
  if (!x.checkPrivateKey(key)) throw new AttestationError('internal', 'ERR_AGENT_SVID_INVALID', 'agent SVID is not for the agent key');
  const id = certInfo(leaf).spiffeId;
  if (!id || !id.startsWith(`spiffe://${td.name}/tessera/agent/`)) throw new AttestationError('internal', 'ERR_AGENT_SVID_INVALID', `agent SVID names ${id ?? 'no SPIFFE ID'}, not an agent ID of ${td.name}`);
  if (expectedId && id !== expectedId) throw new AttestationError('internal', 'ERR_AGENT_SVID_INVALID', `agent SVID names ${id}, the server said ${expectedId}`);
  if (!chainsTo(chain, bundle.x509Authorities)) throw new AttestationError('internal', 'ERR_AGENT_SVID_INVALID', 'agent SVID does not chain to the trust bundle');
}

function emptyBundle() {
  return { trust_domain: '', x509_authorities: [], jwt_authorities: [], sequence: 0, refresh_hint: 0, tainted_x509_authority_ids: [], tainted_jwt_key_ids: [] };
}
