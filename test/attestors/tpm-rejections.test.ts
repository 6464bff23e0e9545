import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { AttestationError, type ErrorKind } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { agentFactory, type TpmAttestorAgent } from '../../attestors/node/tpm/agent.ts';
import { serverFactory } from '../../attestors/node/tpm/server.ts';
import { OBJECT_ATTR } from '../../attestors/node/tpm/constants.ts';
import { makeCredential } from '../../attestors/node/tpm/make-credential.ts';
import { parsePublicArea } from '../../attestors/node/tpm/public-area.ts';
import { AK_ATTRIBUTES, akRsaTemplate } from '../../attestors/node/tpm/templates.ts';
import {
  decodeChallenge, decodePayload, decodeResponse, encodeChallenge, encodePayload, encodeResponse, type TpmResponse,
} from '../../attestors/node/tpm/protocol.ts';
import type { NodeAttestationContext, NodeAttestorServer } from '../../attestors/node/types.ts';
import { createKeyUnderEk, extendPcr, startSwtpm, type Swtpm } from '../helpers/swtpm.ts';

const td = TrustDomain.parse('example.org');
const deps = { logger: silentLogger, clock: systemClock, dataDir: '/nonexistent' };

function makeServer(config: Record<string, unknown>): NodeAttestorServer {
  return serverFactory.create(serverFactory.config.parse(config, 'node_attestors.tpm'), deps);
}
const trusting = (...tpms: Swtpm[]) => ({
  ek_ca_certs: tpms.map((s) => s.golden.rootCertPath),
  ek_intermediate_certs: tpms.map((s) => s.golden.intermediateCertPath),
});

// event_log_path '': the host's own firmware log, if it has one, does not describe the swtpm's PCRs.
function makeAgent(t: ExecutionContext, tpm: Swtpm): TpmAttestorAgent {
  const agent = agentFactory.create(agentFactory.config.parse({ tcti: tpm.tcti, timeout: '180s', event_log_path: '' }, 'node_attestor.tpm'), deps) as TpmAttestorAgent;
  t.teardown(() => agent.close());
  return agent;
}

/** challenge() answered by the real agent; `alter` rewrites the decoded response. */
function ctxFor(agent: TpmAttestorAgent, alter?: (r: TpmResponse, challenge: Uint8Array) => TpmResponse | Promise<TpmResponse>): NodeAttestationContext {
  return {
    trustDomain: td,
    now: () => Date.now(),
    challenge: async (c) => {
      const raw = await agent.respond(c);
      return alter ? encodeResponse(await alter(decodeResponse(raw), c)) : raw;
    },
  };
}

async function rejects(t: ExecutionContext, p: Promise<unknown>, code: string, message: RegExp, kind: ErrorKind = 'permission_denied'): Promise<void> {
  const e = await t.throwsAsync(p, { instanceOf: AttestationError });
  t.is(e?.code, code, e?.message);
  t.is((e as AttestationError).kind, kind);
  t.regex(e!.message, message);
}

test('rejects an EK certificate from an untrusted manufacturer CA', async (t) => {
  const [a, b] = await Promise.all([startSwtpm(t, 'tpm-a'), startSwtpm(t, 'tpm-b')]);
  const agent = makeAgent(t, a);
  await rejects(t, makeServer(trusting(b)).attest(await agent.payload(), ctxFor(agent)),
    'ERR_TPM_EK_CERT_UNTRUSTED', /does not chain to a configured manufacturer CA/);
});

test('rejects an EK certificate when the intermediate CA is missing', async (t) => {
  const a = await startSwtpm(t);
  const agent = makeAgent(t, a);
  await rejects(t, makeServer({ ek_ca_certs: [a.golden.rootCertPath] }).attest(await agent.payload(), ctxFor(agent)),
    'ERR_TPM_EK_CERT_UNTRUSTED', /does not chain/);
});

test('rejects an EK certificate whose key differs from the EK public area sent', async (t) => {
  const [a, b] = await Promise.all([startSwtpm(t, 'tpm-a'), startSwtpm(t, 'tpm-b')]);
  const agentA = makeAgent(t, a), agentB = makeAgent(t, b);
  const pa = decodePayload(await agentA.payload());
  const pb = decodePayload(await agentB.payload());
  // Genuine certificate of TPM A, but the EK (and AK) of TPM B.
  const forged = encodePayload({ ekCert: pa.ekCert, ekPublic: pb.ekPublic, akPublic: pb.akPublic });
  await rejects(t, makeServer(trusting(a, b)).attest(forged, ctxFor(agentB)), 'ERR_TPM_EK_MISMATCH', /another key than the EK public area/);
});

for (const [what, attrs, missing] of [
  ['without fixedTPM', AK_ATTRIBUTES & ~OBJECT_ATTR.fixedTPM & ~OBJECT_ATTR.fixedParent, /lacks fixedTPM/],
  ['that is not restricted', AK_ATTRIBUTES & ~OBJECT_ATTR.restricted, /lacks restricted/],
] as const) {
  test(`rejects an AK ${what}`, async (t) => {
    const tpm = await startSwtpm(t);
    // Made in the same real TPM, under the same EK, before the agent connects.
    const badAk = await createKeyUnderEk(tpm, akRsaTemplate(attrs));
    t.is(parsePublicArea(badAk).attributes, attrs);
    const agent = makeAgent(t, tpm);
    const p = decodePayload(await agent.payload());
    await rejects(t, makeServer(trusting(tpm)).attest(encodePayload({ ...p, akPublic: badAk }), ctxFor(agent)),
      'ERR_TPM_AK_ATTRIBUTES', missing);
  });
}

test('rejects a wrong credential secret', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm);
  await rejects(t, makeServer(trusting(tpm)).attest(await agent.payload(), ctxFor(agent, (r) => ({ ...r, secret: randomBytes(32) }))),
    'ERR_TPM_CREDENTIAL_MISMATCH', /not the activated credential/);
});

test('rejects a quote replayed from a previous attestation (old nonce)', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm);
  const server = makeServer(trusting(tpm));
  let first: TpmResponse | undefined;
  await server.attest(await agent.payload(), ctxFor(agent, (r) => (first = r)));
  t.truthy(first);
  // Second attestation: the fresh secret (activation passes), the old quote.
  await rejects(t, server.attest(await agent.payload(), ctxFor(agent, (r) => ({ ...r, quote: first!.quote, signature: first!.signature, pcrs: first!.pcrs }))),
    'ERR_TPM_QUOTE_NONCE', /not this attestation's nonce/);
});

test('rejects a tampered PCR value', async (t) => {
  const tpm = await startSwtpm(t);
  await extendPcr(tpm, 7, 'secure-boot-db');
  const agent = makeAgent(t, tpm);
  await rejects(t, makeServer(trusting(tpm)).attest(await agent.payload(), ctxFor(agent, (r) => ({
    ...r, pcrs: r.pcrs.map((p) => (p.index === 7 ? { ...p, value: new Uint8Array(32) } : p)),
  }))), 'ERR_TPM_PCR_DIGEST', /do not hash to the quoted PCR digest/);
});

test('rejects a quote signed by a different AK', async (t) => {
  // Two copies of the same TPM state: same EK, different AKs.
  const [a, b] = await Promise.all([startSwtpm(t), startSwtpm(t)]);
  const agentA = makeAgent(t, a), agentB = makeAgent(t, b);
  const pa = decodePayload(await agentA.payload());
  const pb = decodePayload(await agentB.payload());
  t.deepEqual(pa.ekPublic, pb.ekPublic);
  const ek = parsePublicArea(pb.ekPublic);
  const akB = parsePublicArea(pb.akPublic);
  await rejects(t, makeServer(trusting(a)).attest(encodePayload(pa), ctxFor(agentA, async (r, challenge) => {
    // AK B quotes the same nonce (given a credential for its own name so it will answer).
    const c = decodeChallenge(challenge);
    const cred = makeCredential(ek.publicKey, ek, akB.name, randomBytes(32));
    const rb = decodeResponse(await agentB.respond(encodeChallenge({ ...cred, nonce: c.nonce })));
    return { ...r, quote: rb.quote, signature: rb.signature, pcrs: rb.pcrs };
  })), 'ERR_TPM_QUOTE_SIGNATURE', /does not verify with the attestation key/);
});

test('rejects a PCR policy mismatch, naming the PCR', async (t) => {
  const tpm = await startSwtpm(t);
  await extendPcr(tpm, 7, 'unapproved-bootloader');
  const agent = makeAgent(t, tpm);
  const approved = 'ab'.repeat(32);
  await rejects(t, makeServer({ ...trusting(tpm), pcr_policy: { required: { 7: [approved] } } }).attest(await agent.payload(), ctxFor(agent)),
    'ERR_TPM_PCR_POLICY', new RegExp(`PCR sha256:7 is [0-9a-f]{64}; the PCR policy allows ${approved}`));
});

test('rejects PCR values matching none of the allowed sets, naming the PCR', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm);
  const zero = '00'.repeat(32);
  const server = makeServer({ ...trusting(tpm), pcr_policy: { allowed_sets: [{ 0: zero, 4: 'cd'.repeat(32) }, { 'sha256:9': zero }] } });
  await rejects(t, server.attest(await agent.payload(), ctxFor(agent)), 'ERR_TPM_PCR_POLICY',
    /set 1: PCR sha256:4 is 0{64}, want (cd){32}; set 2: PCR sha256:9 is not quoted/);
});

test('rejects a TPM whose EK is neither certified by a trusted CA nor allow-listed', async (t) => {
  const [a, b] = await Promise.all([startSwtpm(t, 'tpm-a'), startSwtpm(t, 'tpm-b')]);
  const agent = makeAgent(t, a);
  const agentB = makeAgent(t, b);
  const otherHash = /([0-9a-f]{64})$/.exec((await makeServer(trusting(b)).attest(await agentB.payload(), ctxFor(agentB))).agentId.toString())![1];
  await rejects(t, makeServer({ ek_hashes: [otherHash] }).attest(await agent.payload(), ctxFor(agent)),
    'ERR_TPM_EK_CERT_UNTRUSTED', /does not chain/);
  const noCert = decodePayload(await agent.payload());
  delete noCert.ekCert;
  await rejects(t, makeServer({ ek_hashes: [otherHash] }).attest(encodePayload(noCert), ctxFor(agent)),
    'ERR_TPM_EK_UNTRUSTED', /no EK certificate was sent and EK [0-9a-f]{64} is not in ek_hashes/);
});

test('rejects malformed evidence with invalid_argument', async (t) => {
  const server = makeServer({ ek_hashes: ['00'.repeat(32)] });
  const ctx: NodeAttestationContext = { trustDomain: td, now: () => Date.now(), challenge: async () => new Uint8Array() };
  await rejects(t, server.attest(new TextEncoder().encode('{"v":1}'), ctx), 'ERR_TPM_PAYLOAD_MALFORMED', /lacks ek_public/, 'invalid_argument');
  await rejects(t, server.attest(encodePayload({ ekPublic: new Uint8Array([0, 4, 1, 2, 3, 4]), akPublic: new Uint8Array([0]) }), ctx),
    'ERR_TPM_PAYLOAD_MALFORMED', /EK public area/, 'invalid_argument');
});

test('agent reports an unreachable TPM as unavailable', async (t) => {
  const agent = agentFactory.create(agentFactory.config.parse({ tcti: 'swtpm:host=127.0.0.1,port=9', timeout: '5s' }, 'x'), deps);
  t.teardown(() => agent.close?.());
  const e = await t.throwsAsync(agent.payload(), { instanceOf: AttestationError });
  t.is(e?.code, 'ERR_TPM_DEVICE');
  t.is((e as AttestationError).kind, 'unavailable');
});
