import test, { type ExecutionContext } from 'ava';
import { silentLogger } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { agentFactory, type TpmAttestorAgent } from '../../attestors/node/tpm/agent.ts';
import { serverFactory } from '../../attestors/node/tpm/server.ts';
import type { NodeAttestationContext, NodeAttestorServer } from '../../attestors/node/types.ts';
import { extendPcr, startSwtpm, type Swtpm } from '../helpers/swtpm.ts';
import { decodePayload, encodePayload } from '../../attestors/node/tpm/protocol.ts';

const td = TrustDomain.parse('example.org');
const deps = { logger: silentLogger, clock: systemClock, dataDir: '/nonexistent' };

function makeServer(config: Record<string, unknown>): NodeAttestorServer {
  return serverFactory.create(serverFactory.config.parse(config, 'node_attestors.tpm'), deps);
}

function trusting(...tpms: Swtpm[]): Record<string, unknown> {
  return {
    ek_ca_certs: tpms.map((s) => s.golden.rootCertPath),
    ek_intermediate_certs: tpms.map((s) => s.golden.intermediateCertPath),
  };
}

// event_log_path '': the host's own firmware log, if it has one, does not describe the swtpm's PCRs.
function makeAgent(t: ExecutionContext, tpm: Swtpm, extra: Record<string, unknown> = {}): TpmAttestorAgent {
  const agent = agentFactory.create(agentFactory.config.parse({ tcti: tpm.tcti, timeout: '180s', event_log_path: '', ...extra }, 'node_attestor.tpm'), deps) as TpmAttestorAgent;
  t.teardown(() => agent.close());
  return agent;
}

/** The server half driven directly; challenge() is answered by the real agent half (optionally altered). */
function ctxFor(agent: TpmAttestorAgent, alter?: (response: Uint8Array, challenge: Uint8Array) => Uint8Array | Promise<Uint8Array>): NodeAttestationContext {
  return {
    trustDomain: td,
    now: () => Date.now(),
    challenge: async (c) => {
      const r = await agent.respond(c);
      return alter ? alter(r, c) : r;
    },
  };
}

test('attests a TPM: agent ID from the EK hash, EK issuer and PCR selectors, audit data', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm);
  const server = makeServer(trusting(tpm));
  const result = await server.attest(await agent.payload(), ctxFor(agent));
  const ekHash = /\/tessera\/agent\/tpm\/([0-9a-f]{64})$/.exec(result.agentId.toString())?.[1];
  t.truthy(ekHash, result.agentId.toString());
  t.is(result.agentId.trustDomain.name, 'example.org');
  const sels = result.selectors.map(formatSelector);
  t.true(sels.includes(`tpm:ek_hash:${ekHash}`));
  t.true(sels.includes('tpm:ek_cert:issuer:cn:swtpm-localca'), sels.join('\n'));
  for (let i = 0; i <= 7; i++) t.true(sels.includes(`tpm:pcr:sha256:${i}:${'00'.repeat(32)}`), `PCR ${i}`);
  t.false(result.trustOnFirstUse);
  t.is(Object.keys(result.audit!.pcrs as object).length, 8);
  t.is(typeof (result.audit!.quote_clock as { reset_count: number }).reset_count, 'number');
});

const ekHashOf = (id: { toString(): string }) => /([0-9a-f]{64})$/.exec(id.toString())![1]!;

test('re-attests without restarting the agent: new nonce, new quote, same agent ID', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm);
  const server = makeServer(trusting(tpm));
  const challenges: Uint8Array[] = [];
  const ctx = ctxFor(agent, (r, c) => { challenges.push(c); return r; });
  const r1 = await server.attest(await agent.payload(), ctx);
  const r2 = await server.attest(await agent.payload(), ctx);
  t.true(r1.agentId.equals(r2.agentId));
  t.is(challenges.length, 2);
  t.notDeepEqual(challenges[0], challenges[1]);
  t.is(r1.audit!.ak_name, r2.audit!.ak_name, 'the AK stays loaded for the agent lifetime');
});

test('reports extended PCRs in the selectors and passes a matching PCR policy', async (t) => {
  const tpm = await startSwtpm(t);
  const pcr7 = await extendPcr(tpm, 7, 'secure-boot-db');
  const agent = makeAgent(t, tpm);
  const server = makeServer({ ...trusting(tpm), pcr_policy: { required: { 7: ['ab'.repeat(32), pcr7] }, allowed_sets: [{ 'sha256:0': '00'.repeat(32), 7: pcr7 }] } });
  const result = await server.attest(await agent.payload(), ctxFor(agent));
  t.true(result.selectors.map(formatSelector).includes(`tpm:pcr:sha256:7:${pcr7}`));
  t.is((result.audit!.pcrs as Record<string, string>)['sha256:7'], pcr7);
});

test('a second provisioned TPM identity gets a different agent ID', async (t) => {
  const [a, b] = await Promise.all([startSwtpm(t, 'tpm-a'), startSwtpm(t, 'tpm-b')]);
  const agentA = makeAgent(t, a), agentB = makeAgent(t, b);
  const server = makeServer(trusting(a, b));
  const [ra, rb] = [await server.attest(await agentA.payload(), ctxFor(agentA)), await server.attest(await agentB.payload(), ctxFor(agentB))];
  t.false(ra.agentId.equals(rb.agentId));
  t.not(ekHashOf(ra.agentId), ekHashOf(rb.agentId));
});

test('admits an allow-listed EK hash without a CA, with or without an EK certificate', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm);
  const first = await makeServer(trusting(tpm)).attest(await agent.payload(), ctxFor(agent));
  const server = makeServer({ ek_hashes: [ekHashOf(first.agentId).toUpperCase()] });
  const withCert = await server.attest(await agent.payload(), ctxFor(agent));
  t.true(withCert.agentId.equals(first.agentId));
  t.is(withCert.audit!.ek_trusted_by, 'ek_hash');
  t.false(withCert.selectors.some((s) => s.value.startsWith('ek_cert:')), 'no issuer selector without a verified chain');
  const p = decodePayload(await agent.payload());
  delete p.ekCert;
  t.true((await server.attest(encodePayload(p), ctxFor(agent))).agentId.equals(first.agentId));
});

test('agent without an EK certificate index attests by EK hash', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm, { ek_cert_nv_index: 0 });
  t.is(decodePayload(await agent.payload()).ekCert, undefined);
  const ref = makeAgent(t, await startSwtpm(t));
  const ekHex = ekHashOf((await makeServer(trusting(tpm)).attest(await ref.payload(), ctxFor(ref))).agentId);
  const result = await makeServer({ ek_hashes: [ekHex] }).attest(await agent.payload(), ctxFor(agent));
  t.is(ekHashOf(result.agentId), ekHex);
});

test('recreates the EK from template L-1 when no EK is persisted: same key as the certificate', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm, { ek_handle: 0x81010002 });
  const result = await makeServer(trusting(tpm)).attest(await agent.payload(), ctxFor(agent));
  t.is(result.audit!.ek_trusted_by, 'certificate');
});

test('quotes several PCR banks', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm, { pcrs: 'sha1:0,7+sha256:0-3,10' });
  const result = await makeServer(trusting(tpm)).attest(await agent.payload(), ctxFor(agent));
  const pcrSels = result.selectors.map(formatSelector).filter((s) => s.startsWith('tpm:pcr:')).map((s) => s.split(':').slice(2, 4).join(':'));
  t.deepEqual(pcrSels, ['sha1:0', 'sha1:7', 'sha256:0', 'sha256:1', 'sha256:2', 'sha256:3', 'sha256:10']);
});

test('attests with the ECC P-384 EK (persisted, certificate at 0x01c00016): ECDH credential activation', async (t) => {
  const tpm = await startSwtpm(t);
  const agent = makeAgent(t, tpm, { ek_cert_nv_index: 0x01c00016, ek_handle: 0x81010016 });
  const rsa = makeAgent(t, await startSwtpm(t));
  const server = makeServer(trusting(tpm));
  const result = await server.attest(await agent.payload(), ctxFor(agent));
  t.is(result.audit!.ek_trusted_by, 'certificate');
  t.true(result.selectors.map(formatSelector).includes('tpm:ek_cert:issuer:cn:swtpm-localca'));
  const rsaResult = await server.attest(await rsa.payload(), ctxFor(rsa));
  t.false(result.agentId.equals(rsaResult.agentId), 'the ECC EK is another identity than the RSA EK');
});
