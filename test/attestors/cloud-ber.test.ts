import test from 'ava';
import { BerError, berOctetString } from '../../attestors/node/cloud/ber.ts';
import { parsePkcs7, verifyPkcs7 } from '../../attestors/node/cloud/pkcs7.ts';
import { serverFactory as awsServerFactory } from '../../attestors/node/aws-iid/server.ts';
import { agentFactory as awsAgentFactory } from '../../attestors/node/aws-iid/agent.ts';
import { serverFactory as azureServerFactory } from '../../attestors/node/azure-imds/server.ts';
import { AttestationError } from '../../common/errors.ts';
import { context, deps, rejects } from '../fakes/cloud-context.ts';
import { contentEncoding, opensslPkcs7, opensslVerifies, replaceOnce } from '../fakes/cloud-pkcs7.ts';
import {
  awsDocument, imdsBase64, makeAwsRegion, rsa2048Openssl, signatureOf, startFakeAwsImds, type AwsRegionKeys,
} from '../fakes/cloud-aws-imds.ts';
import {
  SUBSCRIPTION, TENANT, VM_ID, attestedAnswerOf, attestedAnswerOpenssl, attestedContent, makeAzurePki, type AzurePki,
} from '../fakes/cloud-azure.ts';

/**
 * PKCS#7 as streaming signers write it: BER, indefinite lengths, the content as a
 * constructed (chunked) OCTET STRING. Real EC2 rsa2048 documents have this shape.
 */

let east: AwsRegionKeys, west: AwsRegionKeys, azure: AzurePki, foreign: AzurePki;
test.before(async () => {
  [east, west, azure, foreign] = await Promise.all([
    makeAwsRegion('us-east-1'), makeAwsRegion('us-west-2'), makeAzurePki(), makeAzurePki(undefined, 'Test Impostor Root'),
  ]);
});

// ------------------------------------------------------------- BER building blocks

const bytes = (...parts: (number[] | Uint8Array)[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const ascii = (s: string) => new TextEncoder().encode(s);
/** Definite-length TLV (short or 0x82 long form). */
function tlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const len = n < 0x80 ? [n] : [0x82, n >> 8, n & 0xff];
  return bytes([tag], len, value);
}
const prim = (s: string | Uint8Array) => tlv(0x04, typeof s === 'string' ? ascii(s) : s);
const cons = (...chunks: Uint8Array[]) => tlv(0x24, bytes(...chunks));
const consInf = (...chunks: Uint8Array[]) => bytes([0x24, 0x80], ...chunks, [0, 0]);

test('reads primitive, definite and indefinite constructed, and nested OCTET STRINGs', (t) => {
  const text = (b: Uint8Array) => new TextDecoder().decode(berOctetString(b));
  t.is(text(prim('instance identity')), 'instance identity');
  t.is(text(cons(prim('inst'), prim('ance'))), 'instance');
  t.is(text(consInf(prim('inst'), prim('ance'))), 'instance');
  t.is(text(consInf(prim('a'), cons(prim('b'), consInf(prim('c'), prim('d'))), consInf(), prim('e'))), 'abcde');
  const big = new Uint8Array(5000).fill(0x41);
  t.is(berOctetString(consInf(prim(big.subarray(0, 4096)), prim(big.subarray(4096)))).length, 5000);
});

test('refuses malformed BER instead of returning a short value', (t) => {
  const bad = (b: Uint8Array, message: RegExp) => t.throws(() => berOctetString(b), { instanceOf: BerError, message });
  bad(bytes([0x24, 0x80], prim('abc')), /no end-of-contents/);
  bad(consInf(prim('ab'), tlv(0x13, ascii('cd'))), /found tag 0x13 .* where an OCTET STRING chunk belongs/);
  bad(cons(prim('ab'), tlv(0x30, prim('cd'))), /found tag 0x30/);
  bad(bytes(prim('ab'), [0x04, 0x00]), /2 bytes follow the OCTET STRING/);
  bad(bytes([0x04, 0x05], ascii('ab')), /overruns its container/);
  bad(bytes([0x04, 0x80], ascii('ab'), [0, 0]), /primitive value with indefinite length/);
  bad(bytes([0x24, 0x03], prim('ab')), /overruns its container/);
  let deep = prim('x');
  for (let i = 0; i < 20; i++) deep = consInf(deep);
  bad(deep, /nested deeper than 16/);
});

// ------------------------------------------------------------- openssl-made PKCS#7

/**
 * Swaps the content encoding of an openssl `-stream` message (indefinite lengths all
 * round it, so no enclosing length changes) for `encoded`: same signed bytes, other BER.
 */
function reencodeContent(p7: Uint8Array, content: Uint8Array, encoded: Uint8Array): Uint8Array {
  const b = Buffer.from(p7);
  const start = b.indexOf(Buffer.concat([Buffer.from([0x24, 0x80]), Buffer.from(prim(content))]));
  if (start < 0) throw new Error('content is not one chunk of a streamed message');
  const end = start + 2 + prim(content).length + 2;
  return bytes(b.subarray(0, start), encoded, b.subarray(end));
}

test('parses openssl cms and smime -stream output: indefinite length, chunked content, reassembled exactly', (t) => {
  const doc = awsDocument();
  for (const tool of ['cms', 'smime'] as const) {
    const p7 = rsa2048Openssl(doc, east, 'ber', tool);
    t.deepEqual(contentEncoding(p7), { constructed: true, indefinite: true, chunks: 1 }, tool);
    const parsed = parsePkcs7(p7);
    t.deepEqual(parsed.content, doc, tool);
    t.notThrows(() => verifyPkcs7(parsed, east.rsa2048.publicKey, parsed.content!));
  }
  // Over 4096 bytes: OpenSSL streams several chunks.
  const long = awsDocument({ padding: 'x'.repeat(9000) });
  const p7 = rsa2048Openssl(long, east, 'ber');
  t.true(contentEncoding(p7).chunks >= 3);
  t.deepEqual(parsePkcs7(p7).content, long);
  // DER (no -stream): a primitive OCTET STRING.
  const der = rsa2048Openssl(doc, east, 'der');
  t.like(contentEncoding(der), { constructed: false, indefinite: false });
  t.deepEqual(parsePkcs7(der).content, doc);
});

test('verifies content re-chunked into nested and definite-length constructed strings', (t) => {
  const doc = awsDocument();
  const p7 = rsa2048Openssl(doc, east, 'ber');
  const [a, b, c] = [doc.subarray(0, 100), doc.subarray(100, 101), doc.subarray(101)];
  for (const encoded of [cons(prim(a), prim(b), prim(c)), consInf(prim(a), cons(prim(b), consInf(prim(c)))), prim(doc)]) {
    const parsed = parsePkcs7(reencodeContent(p7, doc, encoded));
    t.deepEqual(parsed.content, doc);
    t.notThrows(() => verifyPkcs7(parsed, east.rsa2048.publicKey, parsed.content!));
  }
  // A chunk left out: the digest of what remains does not match.
  const partial = parsePkcs7(reencodeContent(p7, doc, consInf(prim(a), prim(c))));
  const err = t.throws(() => verifyPkcs7(partial, east.rsa2048.publicKey, partial.content!), { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_PKCS7_DIGEST_MISMATCH');
});

test('refuses encapsulated content that is present but empty, or broken BER', (t) => {
  const doc = awsDocument();
  const p7 = rsa2048Openssl(doc, east, 'ber');
  for (const encoded of [consInf(), cons(), prim(new Uint8Array()), consInf(consInf())]) {
    const err = t.throws(() => parsePkcs7(reencodeContent(p7, doc, encoded)), { instanceOf: AttestationError });
    t.is(err?.code, 'ERR_PKCS7_MALFORMED');
    t.regex(err!.message, /content is present but empty/);
  }
  const err = t.throws(() => parsePkcs7(reencodeContent(p7, doc, consInf(prim(doc), tlv(0x0c, ascii('x'))))), { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_PKCS7_MALFORMED');
});

// ------------------------------------------------------------- AWS rsa2048, BER

function awsServer(extra: Record<string, unknown> = {}) {
  const config = awsServerFactory.config.parse({
    rsa2048_certificates: { 'us-east-1': east.rsa2048.pem, 'us-west-2': west.rsa2048.pem }, ...extra,
  }, 'node_attestors.aws_iid');
  return awsServerFactory.create(config, deps());
}
const awsPayload = (doc: Uint8Array, p7: Uint8Array) =>
  new TextEncoder().encode(JSON.stringify({ document: Buffer.from(doc).toString('base64'), rsa2048: imdsBase64(p7) }));

test('aws_iid accepts rsa2048 documents as openssl signs them (BER streamed and DER, cms and smime), as openssl cms -verify does', async (t) => {
  const s = awsServer();
  const cases = [
    ['ber', 'cms', awsDocument()], ['ber', 'smime', awsDocument()], ['der', 'cms', awsDocument()],
    ['ber', 'cms', awsDocument({ padding: 'x'.repeat(9000) })],
  ] as const;
  for (const [form, tool, doc] of cases) {
    const p7 = rsa2048Openssl(doc, east, form, tool);
    t.true(opensslVerifies(p7, east.rsa2048), `${form}/${tool}: openssl accepts`);
    const r = await s.attest(awsPayload(doc, p7), context());
    t.is(r.agentId.toString(), 'spiffe://example.org/tessera/agent/aws_iid/123456789012/us-east-1/i-0123456789abcdef0', `${form}/${tool}`);
    t.is(r.audit?.variant, 'rsa2048');
  }
});

test('aws_iid agent to server: a BER rsa2048 document served by IMDS attests', async (t) => {
  const doc = awsDocument();
  const imds = await startFakeAwsImds(t, east, doc);
  imds.set({ document: doc, rsa2048: imdsBase64(rsa2048Openssl(doc, east, 'ber')), signature: signatureOf(doc, east) });
  const a = awsAgentFactory.create(awsAgentFactory.config.parse({ metadata_url: imds.url, backoff: '10ms' }, 'node_attestor.aws_iid'), deps());
  const r = await awsServer().attest(await a.payload(), context());
  t.regex(r.agentId.toString(), /aws_iid\/123456789012\/us-east-1\/i-0123456789abcdef0$/);
});

test('aws_iid rejects a BER document altered after signing (openssl agrees)', async (t) => {
  const good = awsDocument();
  const forged = awsDocument({ accountId: '999999999999' });
  const p7 = replaceOnce(rsa2048Openssl(good, east, 'ber'), ascii('"123456789012"'), ascii('"999999999999"'));
  t.false(opensslVerifies(p7, east.rsa2048));
  await rejects(t, awsServer().attest(awsPayload(forged, p7), context()), 'ERR_PKCS7_DIGEST_MISMATCH', /content was altered after signing/);
});

test('aws_iid rejects a BER document signed with another region\'s certificate', async (t) => {
  const doc = awsDocument({ region: 'us-west-2', availabilityZone: 'us-west-2a' });
  await rejects(t, awsServer().attest(awsPayload(doc, rsa2048Openssl(doc, east, 'ber')), context()),
    'ERR_PKCS7_SIGNATURE_INVALID', /does not verify with the trusted key/);
});

test('aws_iid rejects a BER document whose signed content is not the document sent', async (t) => {
  const signed = awsDocument({ instanceId: 'i-0aaaaaaaaaaaaaaaa' });
  const sent = awsDocument({ instanceId: 'i-0bbbbbbbbbbbbbbbb' });
  await rejects(t, awsServer().attest(awsPayload(sent, rsa2048Openssl(signed, east, 'ber')), context()),
    'ERR_AWS_IID_CONTENT_MISMATCH', /signed content is not the instance identity document that was sent/);
});

test('aws_iid rejects a BER document from an instance older than max_instance_age', async (t) => {
  const doc = awsDocument({ pendingTime: new Date(Date.now() - 3 * 3600_000).toISOString() });
  await rejects(t, awsServer({ max_instance_age: '1h' }).attest(awsPayload(doc, rsa2048Openssl(doc, east, 'ber')), context()),
    'ERR_AWS_IID_TOO_OLD', /more than max_instance_age \(3600s\) ago/);
});

test('aws_iid rejects an rsa2048 message whose content is present but empty', async (t) => {
  const doc = awsDocument();
  const p7 = reencodeContent(rsa2048Openssl(doc, east, 'ber'), doc, consInf());
  await rejects(t, awsServer().attest(awsPayload(doc, p7), context()), 'ERR_PKCS7_MALFORMED', /content is present but empty/, 'invalid_argument');
});

// ------------------------------------------------------------- Azure attested data, BER

function azureServer() {
  const config = azureServerFactory.config.parse({
    roots: azure.root.pem, intermediates: azure.intermediate.pem, subscription_tenants: { [SUBSCRIPTION]: TENANT },
  }, 'node_attestors.azure_imds');
  return azureServerFactory.create(config, deps());
}
const answering = (make: (nonce: string) => Uint8Array) => context(async (c) => make(Buffer.from(c).toString()));

test('azure_imds accepts attested data as openssl signs it (BER streamed and DER)', async (t) => {
  for (const [form, tool] of [['ber', 'cms'], ['ber', 'smime'], ['der', 'cms']] as const) {
    const r = await azureServer().attest(new Uint8Array(), answering((n) => attestedAnswerOpenssl(attestedContent({ nonce: n }), azure.signer, form, tool)));
    t.regex(r.agentId.toString(), new RegExp(`azure_imds/${TENANT}/${SUBSCRIPTION}/${VM_ID}$`), `${form}/${tool}`);
  }
});

test('azure_imds rejects BER attested data altered after signing', async (t) => {
  const vm2 = '11111111-2222-3333-4444-555555555555';
  await rejects(t, azureServer().attest(new Uint8Array(), answering((n) => {
    const p7 = opensslPkcs7({ content: attestedContent({ nonce: n }), signer: azure.signer, form: 'ber' });
    return attestedAnswerOf(replaceOnce(p7, ascii(VM_ID), ascii(vm2)));
  })), 'ERR_PKCS7_DIGEST_MISMATCH', /content was altered/);
});

test('azure_imds rejects BER attested data signed by a certificate outside the configured roots', async (t) => {
  await rejects(t, azureServer().attest(new Uint8Array(), answering((n) => attestedAnswerOpenssl(attestedContent({ nonce: n }), foreign.signer, 'ber'))),
    'ERR_CHAIN_UNTRUSTED', /does not chain to a configured root/);
});

test('azure_imds rejects expired BER attested data', async (t) => {
  const createdOn = new Date(Date.now() - 8 * 3600_000);
  await rejects(t, azureServer().attest(new Uint8Array(), answering((n) => attestedAnswerOpenssl(attestedContent({ nonce: n, createdOn }), azure.signer, 'ber'))),
    'ERR_AZURE_IMDS_EXPIRED', /expired at/);
});
