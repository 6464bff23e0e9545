/**
 * Revocation propagation: from `Revoke` on the admin API (the call's return) to the
 * refusal of the revoked token by a validator in ANOTHER process, a RevocationFeed
 * subscriber (SSE over mTLS) that holds N live delegated tokens (distinct grants), for
 * N = 100 and N = 10,000. Each round revokes one random live grant; the validator,
 * on the feed's record, re-verifies that grant's token with verifyDelegatedToken
 * (signature, claims, cnf, revocation) and reports ERR_DELEGATION_REVOKED over IPC.
 * Goal: p99 < 1 s.
 *
 * Real parts: a tessera-server process (SQLite), tokens minted through its token
 * endpoint (mTLS actor, an ID token from the test OpenID Provider), revocations through
 * its admin socket, the validator a child process of this script.
 *
 *   node --import tsx bench/revocation-propagation.ts [--rounds 100] [--sizes 100,10000]
 */
import * as grpc from '@grpc/grpc-js';
import { fork } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAdminProto } from '../common/proto.ts';
import type { BatchSignX509SVIDResponse__Output } from '../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import { SpiffeBundle } from '../spiffe/bundle/spiffebundle.ts';
import { BundleSet } from '../spiffe/bundle/set.ts';
import { createRemoteDelegationKeys } from '../spiffe/delegation/jwks-remote.ts';
import { RevocationFeed } from '../spiffe/delegation/revocation-feed.ts';
import { verifyDelegatedToken } from '../spiffe/delegation/verify.ts';
import { DelegationError } from '../spiffe/delegation/errors.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { certificatesToPem } from '../spiffe/pem.ts';
import { StaticX509Source } from '../spiffe/source/static.ts';
import { parseX509Svid } from '../spiffe/x509svid/parse.ts';
import { createCsr } from '../spiffe/x509svid/csr.ts';

const AUDIENCE = 'https://files.example.org';
const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : dflt; };

interface ChildSetup { issuer: string; url: string; tokensFile: string; svidChain: string[]; svidKey: string; bundle: string[] }
type ToChild = { setup: ChildSetup };
type FromChild = { ready: number } | { refused: string; seq: number } | { error: string };

if (process.argv[2] === '--validator') await validator();
else await main();

// ------------------------------------------------------------------ the validator (child)

async function validator(): Promise<void> {
  const send = (m: FromChild) => process.send!(m);
  const { setup } = await new Promise<ToChild>((resolve) => process.once('message', (m) => resolve(m as ToChild)));
  const td = TrustDomain.parse('example.org');
  const bundles = new BundleSet([new SpiffeBundle(td, { x509Authorities: setup.bundle.map((b) => new Uint8Array(Buffer.from(b, 'base64'))) })]);
  const svid = parseX509Svid(setup.svidChain.map((c) => new Uint8Array(Buffer.from(c, 'base64'))), new Uint8Array(Buffer.from(setup.svidKey, 'base64')));
  const source = new StaticX509Source({ svid, bundles });
  const keys = createRemoteDelegationKeys({ issuer: setup.issuer, jwksUri: `${setup.url}/oauth2/jwks`, bundleSource: source });
  const feed = new RevocationFeed({ issuer: setup.issuer, url: `${setup.url}/oauth2/revocations`, source });
  await feed.ready();
  // The live tokens, by grant: each verified once now (keys fetched, all valid).
  const byGrant = new Map<string, string>();
  // The tokens are bound to the actor's certificate; the validator sees it as the mTLS peer (the same SVID here).
  const opts = { issuer: setup.issuer, keys, audience: AUDIENCE, revocations: feed, peerCertificate: svid.certificates[0]! };
  for (const token of JSON.parse(readFileSync(setup.tokensFile, 'utf8')) as string[]) {
    byGrant.set((await verifyDelegatedToken(token, opts)).grantId, token);
  }
  feed.onRevocation((r) => {
    const token = byGrant.get(r.value);
    if (!token) return;
    verifyDelegatedToken(token, opts).then(
      () => send({ error: `grant ${r.value} still accepted after its revocation record` }),
      (err: unknown) => {
        if (err instanceof DelegationError && err.code === 'ERR_DELEGATION_REVOKED') send({ refused: r.value, seq: r.seq });
        else send({ error: String(err) });
      });
  });
  send({ ready: byGrant.size });
}

// ------------------------------------------------------------------ the driver

async function main(): Promise<void> {
  const { sharedScope, startServer, attestNewAgent, createTestEntry, unary } = await import('../test/helpers/server.ts');
  const { startOpenIdProvider } = await import('../test/helpers/oidc-provider.ts');
  const { loginWithCode } = await import('../test/helpers/oidc-flow.ts');
  const rounds = Number(arg('rounds', '100'));
  const sizes = arg('sizes', '100,10000').split(',').map(Number);
  const scope = sharedScope();
  const op = await startOpenIdProvider(scope, { ttl: { idToken: 3600 } });
  const srv = await startServer(scope, {
    config: { log_level: 'info', oauth: { listen: '127.0.0.1:0', token_ttl: '1h', trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', ca_file: op.caFile }] } },
  });
  const address = readFileSync(join(srv.dataDir, 'oauth.addr'), 'utf8').trim();
  const url = `https://${address}`;
  const cli = await srv.cli(['delegation', 'create', '--actor', 'spiffe://example.org/agents/*', '--issuer', op.issuer, '--audience', AUDIENCE,
    '--scope', 'files:read', '--max-ttl', '1h']);
  if (cli.code !== 0) throw new Error(cli.stderr);
  const agentApi = await attestNewAgent(scope, srv);
  const e = await createTestEntry(srv, agentApi.id, {}, 'agents');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signed = await unary<BatchSignX509SVIDResponse__Output>(agentApi.client, 'BatchSignX509SVID', { params: [{ entry_id: e.id, csr: await createCsr(pair.privateKey, pair.publicKey) }] });
  const chain = signed.results[0]!.cert_chain.map((c) => Buffer.from(c));
  const keyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const ca = srv.readBundle();
  const { idToken } = await loginWithCode(op, { user: 'alice' });

  // Tokens: root exchanges (one grant each) over keep-alive mTLS.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: ca.pem, key: keyPem, cert: certificatesToPem(chain.map((c) => new Uint8Array(c))) });
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: idToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: AUDIENCE,
  }).toString();
  const exchange = () => new Promise<string>((resolve, reject) => {
    const req = https.request(`${url}/oauth2/token`, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve((JSON.parse(text) as { access_token: string }).access_token) : reject(new Error(text))));
    });
    req.on('error', reject);
    req.end(body);
  });
  const tokens: string[] = [];
  const mint = async (n: number) => {
    tokens.length = 0; // fresh grants for each size: none revoked yet
    await Promise.all(Array.from({ length: 8 }, async () => { while (tokens.length < n) tokens.push(await exchange()); }));
    tokens.length = n;
  };

  const Delegation = loadAdminProto().tessera.v1.DelegationAdmin;
  const admin = new Delegation(`unix://${srv.adminSocket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client;
  const revoke = (grant: string) => new Promise<void>((resolve, reject) =>
    (admin as unknown as Record<string, Function>).Revoke!.call(admin, { kind: 'grant', value: grant }, (err: Error | null) => (err ? reject(err) : resolve())));

  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}); node ${process.version}`);
  console.log('server: a tessera-server process (SQLite, revocation heartbeat 5 s); validator: a child process holding the live tokens, RevocationFeed over mTLS');
  for (const size of sizes) {
    const t0 = performance.now();
    await mint(size);
    const mintedIn = (performance.now() - t0) / 1000;
    const tokensFile = join(tmpdir(), `revbench-${process.pid}-${size}.json`);
    writeFileSync(tokensFile, JSON.stringify(tokens));
    const child = fork(fileURLToPath(import.meta.url), ['--validator'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const waiters = new Map<string, (at: number) => void>();
    const ready = new Promise<number>((resolve, reject) => {
      child.on('message', (m: FromChild) => {
        const at = performance.now();
        if ('ready' in m) resolve(m.ready);
        else if ('refused' in m) waiters.get(m.refused)?.(at);
        else reject(new Error(`validator: ${m.error}`));
      });
      child.once('exit', (code) => reject(new Error(`validator exited with ${code}`)));
    });
    child.send({ setup: { issuer: url, url, tokensFile, svidChain: chain.map((c) => c.toString('base64')), svidKey: pair.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'), bundle: ca.der.map((d) => Buffer.from(d).toString('base64')) } } satisfies ToChild);
    const held = await ready;

    const grants = tokens.map((t) => (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString('utf8')) as { grant_id: string }).grant_id);
    const fromReturn: number[] = [], fromCall: number[] = [];
    let early = 0;
    const count = Math.min(rounds, grants.length);
    for (let r = 0; r < count; r++) {
      const grant = grants.splice(Math.floor(Math.random() * grants.length), 1)[0]!;
      const refused = new Promise<number>((resolve) => waiters.set(grant, resolve));
      const called = performance.now();
      await revoke(grant);
      const returned = performance.now();
      const at = await refused;
      if (at < returned) early++;
      fromReturn.push(Math.max(0, at - returned));
      fromCall.push(at - called);
      waiters.delete(grant);
    }
    child.kill();
    const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
    console.log(`${String(size).padStart(6)} live grants (validator holds ${held}; minted in ${mintedIn.toFixed(1)} s): ${fromReturn.length} revocations, `
      + `revoke return → refusal p50 ${q(fromReturn, 0.5).toFixed(1)} ms, p99 ${q(fromReturn, 0.99).toFixed(1)} ms, max ${Math.max(...fromReturn).toFixed(1)} ms `
      + `(${early} refused before the call returned; from the call: p50 ${q(fromCall, 0.5).toFixed(1)} ms, p99 ${q(fromCall, 0.99).toFixed(1)} ms) — goal p99 < 1000 ms`);
  }
  agent.destroy();
  admin.close();
  await scope.cleanup();
}
