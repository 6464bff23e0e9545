import type * as grpc from '@grpc/grpc-js';
import { failedPrecondition, invalidArgument, permissionDenied } from '../../common/errors.ts';
import type { Clock } from '../../common/clock.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { openReceipt, receiptClaims, ReceiptError, type ActionReceipt } from '../../spiffe/audit/receipt.ts';
import type { AgentRecordActionRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/AgentRecordActionRequest.ts';
import type { AgentRecordActionResponse } from '../../proto/gen/tessera-api/tessera/v1/AgentRecordActionResponse.ts';
import type { Datastore } from '../datastore/types.ts';
import type { CaManager } from '../ca/manager.ts';
import type { AuditLog } from '../audit/log.ts';
import type { AgentAuthenticator } from './authn.ts';
import type { EntryView } from './entry-view.ts';

/**
 * AgentService/RecordAction (docs/audit.md "Receipts"): a workload's action receipt,
 * forwarded by its node agent. The agent vouches for the caller's identity, and may only
 * vouch for SPIFFE IDs in its own authorized set; a receipt the workload signed itself
 * (JWS, x5c = its X.509-SVID) is checked against the trust bundle and must name the
 * same SPIFFE ID and the same fields, so not even a compromised agent can forge one.
 */
export interface RecordActionDeps {
  authn: AgentAuthenticator;
  view: EntryView;
  ca: Pick<CaManager, 'trustDomain' | 'x509Authorities'>;
  store: Pick<Datastore, 'logInclusionProof'>;
  audit?: AuditLog;
  clock: Clock;
}

const INSTANCE_ID = /^inst_[A-Za-z0-9_-]{22}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_TEXT = 1024;
const MAX_JWS = 16 * 1024;
const MAX_WAIT_MS = 120_000;

const bad = (msg: string, cause?: unknown) => invalidArgument('ERR_AUDIT_RECORD', msg, cause);

function text(name: string, v: string): string | undefined {
  if (!v) return undefined;
  if (v.length > MAX_TEXT) throw bad(`${name} is ${v.length} characters; at most ${MAX_TEXT}`);
  if (CONTROL.test(v)) throw bad(`${name} must not contain control characters`);
  return v;
}

function digest(name: string, v: Uint8Array): Uint8Array | undefined {
  if (!v || v.length === 0) return undefined;
  if (v.length !== 32) throw bad(`${name} must be a SHA-256 digest (32 bytes), got ${v.length} bytes`);
  return v;
}

export function recordActionHandler(d: RecordActionDeps): (call: grpc.ServerUnaryCall<AgentRecordActionRequest__Output, AgentRecordActionResponse>) => Promise<AgentRecordActionResponse> {
  return async (call) => {
    const peer = await d.authn.authenticate(call);
    const audit = d.audit;
    if (!audit) throw failedPrecondition('ERR_AUDIT_DISABLED', 'the transparency log is disabled on this server (audit.enabled: false)');
    const r = call.request;
    let id: SpiffeId;
    try { id = SpiffeId.parse(r.spiffe_id); } catch (e) { throw bad(`spiffe_id "${r.spiffe_id.slice(0, 256)}" is not a SPIFFE ID: ${(e as Error).message}`, e); }
    const agentId = peer.id.toString();
    if (!d.view.authorizedEntries(agentId).some((e) => e.spiffeId.toString() === id.toString())) {
      throw permissionDenied('ERR_AUDIT_NOT_AUTHORIZED', `${id} is not an identity agent ${agentId} serves: it cannot record actions under it`);
    }
    if (r.instance_id && !INSTANCE_ID.test(r.instance_id)) throw bad(`instance_id "${r.instance_id.slice(0, 64)}" must be "inst_" followed by 22 characters of [A-Za-z0-9_-]`);
    if (r.decision && r.decision !== 'allow' && r.decision !== 'deny') throw bad(`decision "${r.decision.slice(0, 32)}" must be allow, deny or empty`);
    const receipt: ActionReceipt = {
      spiffeId: id.toString(), subject: text('subject', r.subject), tool: text('tool', r.tool), action: text('action', r.action),
      argumentsDigest: digest('arguments_digest', r.arguments_digest), resultDigest: digest('result_digest', r.result_digest),
      decision: (r.decision || undefined) as ActionReceipt['decision'], correlationId: text('correlation_id', r.correlation_id),
    };
    const signed = r.jws ? await checkJws(d, r.jws, receipt) : undefined;

    const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : undefined);
    const { index, data } = await audit.append({
      type: 'agent.action', time: d.clock.now(), actor: id.toString(), subject: receipt.subject, instance: r.instance_id || undefined,
      resource: receipt.tool, action: receipt.action, decision: receipt.decision, correlation_id: receipt.correlationId,
      detail: {
        arguments_sha256: hex(receipt.argumentsDigest), result_sha256: hex(receipt.resultDigest),
        pid: r.pid, uid: r.uid, agent: agentId, signed: signed !== undefined, jws: signed,
      },
    });
    const out: AgentRecordActionResponse = { index, leaf: Buffer.from(data) };
    if (r.wait) {
      const wait = Math.min(r.wait_timeout_ms || 30_000, MAX_WAIT_MS);
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort());
      const cp = await audit.checkpointCovering(index, wait, ac.signal);
      if (cp) Object.assign(out, { tree_size: cp.size, checkpoint: cp.note, proof: (await d.store.logInclusionProof(index, cp.size)).map((h) => Buffer.from(h)) });
    }
    return out;
  };
}

/** The JWS must verify, chain to our bundle, be the caller's own SVID, and sign exactly these fields. */
async function checkJws(d: RecordActionDeps, jws: string, receipt: ActionReceipt): Promise<string> {
  if (jws.length > MAX_JWS) throw bad(`jws is ${jws.length} characters; at most ${MAX_JWS}`);
  let opened: Awaited<ReturnType<typeof openReceipt>>;
  try { opened = await openReceipt(jws); } catch (e) {
    if (e instanceof ReceiptError) throw bad(e.message, e);
    throw e;
  }
  const own = new X509Bundle(d.ca.trustDomain, d.ca.x509Authorities());
  let signer: string;
  try {
    signer = verifyX509Svid(opened.chain, { getX509BundleForTrustDomain: (td) => (td.equals(own.trustDomain) ? own : undefined) },
      { now: new Date(d.clock.now()) }).id.toString();
  } catch (e) {
    throw permissionDenied('ERR_AUDIT_JWS_SIGNER', `jws x5c is not a valid X.509-SVID of ${d.ca.trustDomain.name}: ${(e as Error).message}`);
  }
  if (signer !== receipt.spiffeId) throw permissionDenied('ERR_AUDIT_JWS_SIGNER', `jws is signed by ${signer}, not by the caller ${receipt.spiffeId}`);
  const want = receiptClaims(receipt, 0);
  for (const [k, v] of Object.entries(want)) {
    if (k !== 'iat' && opened.claims[k] !== v) throw bad(`jws claim ${k} is ${JSON.stringify(opened.claims[k])?.slice(0, 120)}, but the record says ${JSON.stringify(v).slice(0, 120)}`);
  }
  for (const k of Object.keys(opened.claims)) {
    if (k !== 'iat' && !(k in want)) throw bad(`jws claim ${k} is not in the record`);
  }
  return jws;
}
