/**
 * The demo's closing steps: what an operator and an auditor see of the run before it.
 *
 * - operations: the server's metrics and health listener (docs/metrics.md), `/ready` and
 *   the counters of the SVIDs and tokens just issued;
 * - transparency log (docs/audit.md): a signed checkpoint of everything so far, and an
 *   inclusion proof of the revocation event checked offline by `tessera-audit verify-proof`
 *   with nothing but the server's verifier key;
 * - AuthZEN (docs/authzen.md): the resource server asks the authorization server for a
 *   decision on a fresh delegated token of agent A, before and after its grant is revoked;
 *   and, as an OpenID Shared Signals receiver (docs/shared-signals.md), it hears the
 *   revocation as a CAEP session-revoked event on a poll stream it opened with its SVID.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exchangeToken, TOKEN_TYPE, X509Source } from '../../spiffe/index.ts';
import { AuthzenClient } from '../../spiffe/authzen/index.ts';
import { httpsRequest, serverAgent } from '../../spiffe/delegation/https.ts';
import { createRemoteDelegationKeys } from '../../spiffe/index.ts';
import { SESSION_REVOKED, SsfPollClient, type SecurityEvent } from '../../spiffe/ssf/index.ts';
import { AUDIENCE, ID, type DelegationDemo } from './delegation.ts';

export interface EvidenceDemo extends DelegationDemo {
  /** host:port of the server's metrics and health listener (<data_dir>/metrics.addr). */
  metricsAddr: string;
  /** The server's data dir (audit-key.pub). */
  serverDir: string;
  /** Scratch directory for proof files. */
  dir: string;
  /** Runs `tessera-audit <args>` (the offline verifier); resolves with stdout. */
  auditVerifier(args: string[]): Promise<string>;
}

/** `/ready` and the issuance counters from `/metrics`. */
export async function showOperations(d: EvidenceDemo): Promise<void> {
  const ready = await fetch(`http://${d.metricsAddr}/ready`);
  d.detail(`GET /ready    ${ready.status} ${(await ready.text()).trim()}`);
  const metrics = await fetch(`http://${d.metricsAddr}/metrics`);
  if (metrics.status !== 200) throw new Error(`GET /metrics answered ${metrics.status}`);
  const wanted = /^(tessera_server_svids_issued_total\{type="(x509|jwt)"|tessera_server_oauth_token_requests_total)/;
  const lines = (await metrics.text()).split('\n').filter((l) => wanted.test(l));
  if (!lines.some((l) => l.startsWith('tessera_server_svids_issued_total'))) throw new Error('/metrics has no tessera_server_svids_issued_total');
  lines.forEach((l, i) => d.detail(`${i ? ' '.repeat(13) : 'GET /metrics '} ${l}`));
}

/** A signed checkpoint, then the revocation event proved included and verified offline. */
export async function showTransparencyLog(d: EvidenceDemo): Promise<void> {
  // Step 9 ended seconds ago and the batcher commits within 250 ms, so the revocation's
  // event is almost always in the log already: ask for it and sign a checkpoint at once,
  // and only if that checkpoint does not cover it yet, wait for it and sign again.
  type Revoked = { index: number; event: { type: string } };
  const query = async () => (JSON.parse(await d.admin(['audit', 'query', '--type', 'delegation.revoked', '--output', 'json'])) as Revoked[])[0];
  const checkpoint = async () => JSON.parse(await d.admin(['audit', 'checkpoint', '--create', '--output', 'json'])) as { size: number; note: string };
  let [revoked, cp] = await Promise.all([query(), checkpoint()]);
  for (let i = 0; i < 20 && !revoked; i++) {
    await new Promise((r) => setTimeout(r, 250));
    revoked = await query();
  }
  if (!revoked) throw new Error('no delegation.revoked event in the transparency log');
  if (cp.size <= revoked.index) cp = await checkpoint();
  const [origin, , root] = cp.note.split('\n');
  d.detail(`$ tessera-server audit checkpoint --create  -> ${origin}, ${cp.size} events, root ${root}, Ed25519-signed`);
  const proof = await d.admin(['audit', 'prove', '--index', String(revoked.index), '--output', 'json']);
  const proofFile = join(d.dir, 'revocation-proof.json');
  writeFileSync(proofFile, proof);
  d.detail(`$ tessera-server audit prove --index ${revoked.index} --output json > proof.json  (the ${revoked.event.type} event)`);
  const verified = (await d.auditVerifier(['verify-proof', proofFile, '--key-file', join(d.serverDir, 'audit-key.pub')])).trim();
  d.detail(`$ tessera-audit verify-proof proof.json --key-file audit-key.pub  -> ${verified}`);
}

/**
 * Agent A exchanges alice's ID token for a fresh delegated token (a grant of its own);
 * the resource server asks the PDP about it, the grant is revoked, it asks again.
 */
export async function showAuthzen(d: EvidenceDemo, idToken: string): Promise<void> {
  const address = `unix://${d.socket}`;
  const as = (id: string) => X509Source.create({ address, picker: (s) => s.find((v) => v.id.toString() === id) });
  const [a, rs] = await Promise.all([as(ID.a), as(ID.rs)]);
  const pdp = new AuthzenClient({ issuer: `https://${d.authServer}`, source: rs, bundleSource: rs, audience: AUDIENCE, cache: false });
  try {
    const { accessToken } = await exchangeToken({
      tokenEndpoint: `https://${d.authServer}/oauth2/token`, subjectToken: idToken, subjectTokenType: TOKEN_TYPE.idToken,
      audience: [AUDIENCE], scope: ['files:read'], x509Source: a, bundleSource: a,
    });
    const grant = String((JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { grant_id: string }).grant_id);
    d.detail(`A exchanged alice's ID token again: grant ${grant}, scope files:read`);
    const ask = (action: string) => pdp.authorize(action, { type: 'file', id: 'report.pdf' }, { token: accessToken });
    const show = (action: string, r: { decision: boolean; id: string }) => `${action} -> ${r.decision} (${r.id})`;
    const [read, post] = [await ask('files:read'), await ask('review:post')];
    if (!read.decision || post.decision) throw new Error(`AuthZEN: expected files:read permitted, review:post denied; got ${read.id}, ${post.id}`);
    d.detail(`POST /access/v1/evaluation  ${show('files:read', read)}; ${show('review:post', post)}`);
    const heard = await listenForRevocations(d, rs);
    d.detail(`$ tessera-server delegation revoke --grant ${grant}`);
    await d.admin(['delegation', 'revoke', '--grant', grant]);
    const after = await ask('files:read');
    if (after.decision) throw new Error('AuthZEN: the revoked token was still permitted');
    d.detail(`POST /access/v1/evaluation  ${show('files:read', after)}`);
    const ev = await heard.event;
    d.detail(`SSF poll stream ${heard.streamId}: ${ev.type.split('/').pop()} SET ${ev.jti.slice(0, 12)}..., sub_id ${JSON.stringify(ev.subject)}`);
    await heard.close();
  } finally {
    pdp.close();
    a.close();
    rs.close();
  }
}

/**
 * The resource server opens an SSF poll stream (RFC 8936) with its SVID and polls it; resolves
 * with the first CAEP session-revoked event, signature checked against the issuer's JWKS.
 */
async function listenForRevocations(d: EvidenceDemo, rs: X509Source): Promise<{ streamId: string; event: Promise<SecurityEvent>; close(): Promise<void> }> {
  const issuer = `https://${d.authServer}`;
  const agent = serverAgent({ client: rs, bundleSource: rs });
  const r = await httpsRequest(new URL('/ssf/stream', issuer), {
    agent, method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events_requested: [SESSION_REVOKED], description: 'demo resource server' }),
  });
  agent.destroy();
  const stream = JSON.parse(r.body.toString('utf8')) as { stream_id?: string; aud?: string; delivery?: { endpoint_url?: string } };
  if (r.status !== 201 || !stream.delivery?.endpoint_url) throw new Error(`SSF stream not created: ${r.status} ${r.body.toString('utf8')}`);
  d.detail(`POST /ssf/stream (as ${ID.rs}): poll stream ${stream.stream_id} for CAEP session-revoked`);
  let resolve!: (ev: SecurityEvent) => void;
  const event = new Promise<SecurityEvent>((res) => { resolve = res; });
  const poll = new SsfPollClient({
    endpoint: stream.delivery.endpoint_url, source: rs, bundleSource: rs, issuer, audience: stream.aud ?? ID.rs,
    keys: createRemoteDelegationKeys({ issuer, bundleSource: rs }),
    onEvent: (ev) => { if (ev.type === SESSION_REVOKED) resolve(ev); },
  });
  let timer: NodeJS.Timeout | undefined;
  const bounded = Promise.race([event, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no session-revoked SET within 30 s')), 30_000); })])
    .finally(() => clearTimeout(timer));
  return { streamId: String(stream.stream_id), event: bounded, close: () => poll.close() };
}
