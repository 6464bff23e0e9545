import test from 'ava';
import { serverFactory } from '../../attestors/node/aws-iid/server.ts';
import { agentFactory } from '../../attestors/node/aws-iid/agent.ts';
import { AttestationError } from '../../common/errors.ts';
import { awsDocument, makeAwsRegion, rsa2048Of, signatureOf, startFakeAwsImds, type AwsRegionKeys } from '../fakes/cloud-aws-imds.ts';
import { deadAddress } from '../fakes/cloud-http.ts';
import { context, deps, rejects, selectorStrings } from '../fakes/cloud-context.ts';

let east: AwsRegionKeys, west: AwsRegionKeys, rogue: AwsRegionKeys;
test.before(async () => {
  [east, west, rogue] = await Promise.all([makeAwsRegion('us-east-1'), makeAwsRegion('us-west-2'), makeAwsRegion('us-east-1')]);
});

function server(extra: Record<string, unknown> = {}) {
  const config = serverFactory.config.parse({
    rsa2048_certificates: { 'us-east-1': east.rsa2048.pem, 'us-west-2': west.rsa2048.pem },
    rsa_sha256_certificates: { 'us-east-1': east.rsa.pem, 'us-west-2': west.rsa.pem },
    ...extra,
  }, 'node_attestors.aws_iid');
  return serverFactory.create(config, deps());
}

function agent(metadataUrl: string, extra: Record<string, unknown> = {}) {
  const d = deps();
  const a = agentFactory.create(agentFactory.config.parse({ metadata_url: metadataUrl, backoff: '10ms', max_backoff: '50ms', timeout: '2s', ...extra }, 'node_attestor.aws_iid'), d);
  return { agent: a, logs: d.logger.records };
}

const payload = (p: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify(p));
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');


test('attests with the rsa2048 PKCS#7 document fetched over IMDSv2: agent ID and selectors', async (t) => {
  const imds = await startFakeAwsImds(t, east);
  const { agent: a } = agent(imds.url);
  const r = await server().attest(await a.payload(), context());
  t.is(r.agentId.toString(), 'spiffe://example.org/tessera/agent/aws_iid/123456789012/us-east-1/i-0123456789abcdef0');
  t.true(r.trustOnFirstUse);
  t.deepEqual(selectorStrings(r), [
    'aws_iid:account_id:123456789012', 'aws_iid:az:us-east-1a', 'aws_iid:image:id:ami-0abcdef1234567890',
    'aws_iid:instance:id:i-0123456789abcdef0', 'aws_iid:instance:type:t3.micro', 'aws_iid:region:us-east-1',
  ]);
  t.is(r.audit?.variant, 'rsa2048');
  // IMDSv2: a PUT for the session token with its TTL header, then GETs carrying it.
  t.is(imds.requests[0].method, 'PUT');
  t.is(imds.requests[0].path, '/latest/api/token');
  t.truthy(imds.requests[0].headers['x-aws-ec2-metadata-token-ttl-seconds']);
  t.deepEqual(imds.requests.slice(1).map((q) => q.path), ['/latest/dynamic/instance-identity/document', '/latest/dynamic/instance-identity/rsa2048']);
  t.truthy(imds.requests[1].headers['x-aws-ec2-metadata-token']);
});

test('attests with the RSA-SHA256 signature variant', async (t) => {
  const doc = awsDocument({ region: 'us-west-2', availabilityZone: 'us-west-2b' });
  const imds = await startFakeAwsImds(t, west, doc);
  const { agent: a } = agent(imds.url, { signature: 'signature' });
  const r = await server().attest(await a.payload(), context());
  t.is(r.agentId.toString(), 'spiffe://example.org/tessera/agent/aws_iid/123456789012/us-west-2/i-0123456789abcdef0');
  t.is(r.audit?.variant, 'signature');
  t.is(imds.requests.at(-1)?.path, '/latest/dynamic/instance-identity/signature');
});

test('rejects a document altered after signing (PKCS#7 digest no longer matches)', async (t) => {
  const good = awsDocument();
  const forged = awsDocument({ accountId: '999999999999' });
  const rsa2048 = rsa2048Of(forged, east, { signOver: good });
  await rejects(t, server().attest(payload({ document: b64(forged), rsa2048 }), context()), 'ERR_PKCS7_DIGEST_MISMATCH', /messageDigest does not match/);
});

test('rejects a document altered after signing (RSA-SHA256 variant)', async (t) => {
  const good = awsDocument();
  const forged = awsDocument({ instanceType: 'p5.48xlarge' });
  await rejects(t, server().attest(payload({ document: b64(forged), signature: signatureOf(good, east) }), context()),
    'ERR_AWS_IID_SIGNATURE_INVALID', /does not verify with the us-east-1 certificate/);
});

test('rejects a PKCS#7 signature made by an untrusted key', async (t) => {
  const doc = awsDocument();
  await rejects(t, server().attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, rogue) }), context()),
    'ERR_PKCS7_SIGNATURE_INVALID', /does not verify with the trusted key/);
});

test('rejects an RSA-SHA256 signature made by an untrusted key', async (t) => {
  const doc = awsDocument();
  await rejects(t, server().attest(payload({ document: b64(doc), signature: signatureOf(doc, rogue) }), context()),
    'ERR_AWS_IID_SIGNATURE_INVALID', /does not verify/);
});

test('rejects a document signed with another region\'s key', async (t) => {
  const doc = awsDocument({ region: 'us-west-2', availabilityZone: 'us-west-2a' });
  await rejects(t, server().attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, east) }), context()),
    'ERR_PKCS7_SIGNATURE_INVALID', /trusted key/);
});

test('rejects when the PKCS#7 signed content is not the document sent', async (t) => {
  const signed = awsDocument({ instanceId: 'i-0aaaaaaaaaaaaaaaa' });
  const sent = awsDocument({ instanceId: 'i-0bbbbbbbbbbbbbbbb' });
  await rejects(t, server().attest(payload({ document: b64(sent), rsa2048: rsa2048Of(signed, east) }), context()),
    'ERR_AWS_IID_CONTENT_MISMATCH', /signed content is not the instance identity document that was sent/);
});

test('rejects a document from a region with no configured certificate', async (t) => {
  const doc = awsDocument({ region: 'eu-central-1', availabilityZone: 'eu-central-1a' });
  await rejects(t, server().attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, east) }), context()),
    'ERR_AWS_IID_REGION_UNKNOWN', /no AWS certificate is configured for region "eu-central-1".*configured: us-east-1, us-west-2/);
});

test('rejects an account outside account_allow_list', async (t) => {
  const doc = awsDocument();
  await rejects(t, server({ account_allow_list: ['210987654321'] }).attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, east) }), context()),
    'ERR_AWS_IID_ACCOUNT_NOT_ALLOWED', /account 123456789012 is not in account_allow_list/);
});

test('accepts an account in account_allow_list', async (t) => {
  const doc = awsDocument();
  const r = await server({ account_allow_list: ['123456789012'] }).attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, east) }), context());
  t.regex(r.agentId.toString(), /aws_iid\/123456789012\//);
});

test('rejects an instance launched longer ago than max_instance_age', async (t) => {
  const doc = awsDocument({ pendingTime: new Date(Date.now() - 3 * 3600_000).toISOString() });
  await rejects(t, server({ max_instance_age: '1h' }).attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, east) }), context()),
    'ERR_AWS_IID_TOO_OLD', /more than max_instance_age \(3600s\) ago/);
});

test('rejects a pendingTime in the future', async (t) => {
  const doc = awsDocument({ pendingTime: new Date(Date.now() + 3600_000).toISOString() });
  await rejects(t, server().attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, east) }), context()),
    'ERR_AWS_IID_NOT_YET_VALID', /pendingTime .* is in the future/);
});

test('rejects malformed payloads as invalid arguments', async (t) => {
  const doc = awsDocument();
  const s = server();
  await rejects(t, s.attest(new TextEncoder().encode('not json'), context()), 'ERR_AWS_IID_PAYLOAD_MALFORMED', /not JSON/, 'invalid_argument');
  await rejects(t, s.attest(payload({ document: b64(doc), rsa2048: rsa2048Of(doc, east), signature: signatureOf(doc, east) }), context()),
    'ERR_AWS_IID_PAYLOAD_MALFORMED', /exactly one/, 'invalid_argument');
  await rejects(t, s.attest(payload({ document: b64(doc), rsa2048: '!!notbase64!!' }), context()), 'ERR_AWS_IID_PAYLOAD_MALFORMED', /base64/, 'invalid_argument');
  await rejects(t, s.attest(payload({ document: b64(doc), rsa2048: b64(new Uint8Array([0x30, 0x03, 1, 2, 3])) }), context()), 'ERR_PKCS7_MALFORMED', /does not parse/, 'invalid_argument');
  await rejects(t, s.attest(payload({ document: b64(new TextEncoder().encode('{"accountId":"1"}')), rsa2048: rsa2048Of(doc, east) }), context()),
    'ERR_AWS_IID_DOCUMENT_MALFORMED', /region/, 'invalid_argument');
});

test('agent retries with backoff while IMDS answers 503, then succeeds', async (t) => {
  const imds = await startFakeAwsImds(t, east);
  imds.failNext(2);
  const { agent: a, logs } = agent(imds.url);
  const r = await server().attest(await a.payload(), context());
  t.regex(r.agentId.toString(), /i-0123456789abcdef0$/);
  const retries = logs.filter((l) => l.msg === 'metadata service not available, retrying');
  t.is(retries.length, 2);
  t.true((retries[1].retry_in_ms as number) >= (retries[0].retry_in_ms as number) / 2);
  t.regex(String(retries[0].reason), /HTTP 503/);
});

test('agent reports a clear error when IMDS is down, after its attempts, without crashing', async (t) => {
  const { agent: a, logs } = agent(await deadAddress(), { attempts: 3 });
  const err = await t.throwsAsync(a.payload(), { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_METADATA_UNAVAILABLE');
  t.is((err as AttestationError).kind, 'unavailable');
  t.regex(err!.message, /aws_iid: instance metadata service at http:\/\/127\.0\.0\.1:\d+ is unavailable after 3 attempts: ECONNREFUSED/);
  t.is(logs.filter((l) => l.msg === 'metadata service not available, retrying').length, 2);
});

test('server config requires at least one region certificate', (t) => {
  const config = serverFactory.config.parse({}, 'node_attestors.aws_iid');
  t.throws(() => serverFactory.create(config, deps()), { message: /at least one region/ });
});
