import 'reflect-metadata'; // @peculiar/x509 (tsyringe) throws at load without it
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPairSync, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { TokenReview } from 'kubernetes-models/authentication.k8s.io/v1';
import { Node, Pod } from 'kubernetes-models/v1';
import { podJson, type FakePod } from './kubelet.ts';

/**
 * A small, real kube-apiserver for k8s_psat: HTTPS on 127.0.0.1 (port 0) with a serving
 * certificate from a CA made at test time, bearer-token authentication of its caller,
 * and three endpoints speaking the real JSON: POST
 * /apis/authentication.k8s.io/v1/tokenreviews, GET /api/v1/namespaces/{ns}/pods/{name}
 * and GET /api/v1/nodes/{name}. Errors are v1 Status objects; object bodies are sent
 * chunked (no Content-Length), as the API server streams them.
 *
 * It is also the cluster's service-account token issuer: mintToken() makes projected
 * tokens (RS256, the claims kube-apiserver puts in them), and TokenReview verifies
 * signature, expiry, audiences and the pod binding as the API server does, with its
 * error texts. Every answer is validated against the Kubernetes schemas
 * (kubernetes-models) before it is sent, so the shapes cannot drift from the API.
 */
export interface FakeNode { name: string; uid: string; labels?: Record<string, string>; internalIP?: string }

export interface MintOptions {
  namespace: string;
  serviceAccount: string;
  /** Pod the token is bound to (must exist in pods); omitted: an unbound TokenRequest token. */
  pod?: string;
  audience?: string[];
  /** Seconds from now; negative for an already expired token. Default 600 (the minimum a projection allows). */
  expiresIn?: number;
  /** Sign with another key (a forgery the API server cannot verify). */
  signingKey?: KeyObject;
}

type Scope = { teardown(fn: () => unknown): void };

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const IMPLICIT_AUDIENCE = [ISSUER];
const SA_UID = 'a3f2c1d0-7b6e-4f5a-9c8d-2e1f0a9b8c7d';

export class FakeKubeApiServer {
  readonly pods: FakePod[] = [];
  readonly nodes: FakeNode[] = [];
  /** Requests seen, in order ("POST /apis/...", "GET /api/v1/..."). */
  readonly requests: string[] = [];
  /** Answers every request with this Status code instead (403: RBAC denies the caller; 503: the API server is down). */
  failWith?: number;
  /** Answers every authenticated request with these raw bytes instead (a broken or hostile endpoint). */
  rawAnswer?: { status: number; body: Buffer };
  /** Like an authenticator that ignores spec.audiences: no status.audiences, no audience check. */
  audienceUnaware = false;
  /** The bearer token the server's own service account presents (written to tokenPath). */
  readonly callerToken = `caller-${randomUUID()}`;
  readonly issuerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly kid = randomUUID();

  private constructor(private readonly server: Server, readonly url: string, readonly caPath: string, readonly tokenPath: string) {}

  static async start(t: Scope): Promise<FakeKubeApiServer> {
    const dir = mkdtempSync(join(tmpdir(), 'kas-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const pki = await servingPki();
    const caPath = join(dir, 'ca.crt'), tokenPath = join(dir, 'token');
    writeFileSync(caPath, pki.caPem);
    let fake!: FakeKubeApiServer;
    const server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => fake.handle(req, res));
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
    fake = new FakeKubeApiServer(server, `https://127.0.0.1:${(server.address() as { port: number }).port}`, caPath, tokenPath);
    writeFileSync(tokenPath, fake.callerToken + '\n');
    t.teardown(() => fake.close());
    return fake;
  }

  /** A projected service-account token as kube-apiserver mints it (claims of Kubernetes 1.30+: node bound too). */
  async mintToken(o: MintOptions): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const pod = o.pod === undefined ? undefined : this.pods.find((p) => p.namespace === o.namespace && p.name === o.pod);
    if (o.pod !== undefined && !pod) throw new Error(`fake kube-apiserver: no pod ${o.namespace}/${o.pod} to bind the token to`);
    const node = pod && this.nodes.find((n) => n.name === (pod.nodeName ?? 'node-1'));
    const k8s: Record<string, unknown> = { namespace: o.namespace, serviceaccount: { name: o.serviceAccount, uid: SA_UID } };
    if (pod) k8s.pod = { name: pod.name, uid: pod.uid };
    if (node) k8s.node = { name: node.name, uid: node.uid };
    return new SignJWT({ 'kubernetes.io': k8s, jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', kid: this.kid })
      .setIssuer(ISSUER).setSubject(`system:serviceaccount:${o.namespace}:${o.serviceAccount}`)
      .setAudience(o.audience ?? ['tessera-server'])
      .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + (o.expiresIn ?? 600))
      .sign(o.signingKey ?? this.issuerKey.privateKey);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      void this.route(req, body, res).catch((e: Error) => sendStatus(res, 500, 'InternalError', e.message));
    });
  }

  private async route(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    this.requests.push(`${req.method} ${path}`);
    if (req.headers.authorization !== `Bearer ${this.callerToken}`) return sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
    if (this.failWith === 403) {
      return sendStatus(res, 403, 'Forbidden', `tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:tessera:tessera-server" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope`);
    }
    if (this.rawAnswer) { res.writeHead(this.rawAnswer.status, { 'Content-Type': 'application/json' }); res.end(this.rawAnswer.body); return; }
    if (this.failWith) return sendStatus(res, this.failWith, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && path === '/apis/authentication.k8s.io/v1/tokenreviews') return this.tokenReview(body, res);
    if (req.method === 'GET' && (m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path))) {
      const pod = this.pods.find((p) => p.namespace === m![1] && p.name === m![2]);
      if (!pod) return sendStatus(res, 404, 'NotFound', `pods "${m[2]}" not found`, { name: m[2], kind: 'pods' });
      return sendChunked(res, 200, new Pod(podJson(pod) as ConstructorParameters<typeof Pod>[0]));
    }
    if (req.method === 'GET' && (m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path))) {
      const node = this.nodes.find((n) => n.name === m![1]);
      if (!node) return sendStatus(res, 404, 'NotFound', `nodes "${m[1]}" not found`, { name: m[1], kind: 'nodes' });
      return sendChunked(res, 200, new Node(nodeJson(node) as ConstructorParameters<typeof Node>[0]));
    }
    return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
  }

  private async tokenReview(body: string, res: ServerResponse): Promise<void> {
    let review: TokenReview;
    try { review = new TokenReview(JSON.parse(body)); review.validate(); } catch (e) {
      return sendStatus(res, 400, 'BadRequest', `TokenReview in version "v1" cannot be handled as a TokenReview: ${(e as Error).message}`);
    }
    const requested = review.spec.audiences?.length ? review.spec.audiences : IMPLICIT_AUDIENCE;
    const outcome = await this.authenticate(review.spec.token ?? '', requested);
    review.status = 'error' in outcome ? { user: {}, error: `[invalid bearer token, ${outcome.error}]` } : outcome;
    // The API server answers the review with 201 Created.
    sendChunked(res, 201, review);
  }

  /** What kube-apiserver's service-account authenticator decides, with its error texts. */
  private async authenticate(token: string, requested: string[]): Promise<{ error: string } | NonNullable<TokenReview['status']>> {
    let claims: Record<string, any>;
    try {
      claims = (await jwtVerify(token, this.issuerKey.publicKey, { issuer: ISSUER, algorithms: ['RS256'] })).payload;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) return { error: 'service account token has expired' };
      return { error: 'square/go-jose: error in cryptographic primitive' };
    }
    const tokenAuds: string[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const auds = this.audienceUnaware ? [] : tokenAuds.filter((a) => requested.includes(a));
    if (!this.audienceUnaware && auds.length === 0) {
      return { error: `token audiences ${goQuoted(tokenAuds)} is invalid for the target audiences ${goQuoted(requested)}` };
    }
    const k = claims['kubernetes.io'] as { namespace: string; serviceaccount: { name: string; uid: string }; pod?: { name: string; uid: string }; node?: { name: string; uid: string } };
    const extra: Record<string, string[]> = { 'authentication.kubernetes.io/credential-id': [`JTI=${claims.jti}`] };
    if (k.pod) {
      const pod = this.pods.find((p) => p.namespace === k.namespace && p.name === k.pod!.name);
      if (!pod) return { error: 'service account token has been invalidated' };
      if (pod.uid !== k.pod.uid) return { error: `pod UID (${pod.uid}) does not match claim (${k.pod.uid})` };
      extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
    }
    if (k.node) {
      extra['authentication.kubernetes.io/node-name'] = [k.node.name];
      extra['authentication.kubernetes.io/node-uid'] = [k.node.uid];
    }
    return {
      authenticated: true,
      user: {
        username: `system:serviceaccount:${k.namespace}:${k.serviceaccount.name}`, uid: k.serviceaccount.uid,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${k.namespace}`, 'system:authenticated'], extra,
      },
      ...(this.audienceUnaware ? {} : { audiences: auds }),
    };
  }
}

/** A core/v1 Node as `kubectl get node -o json` shows it. */
export function nodeJson(n: FakeNode): Record<string, unknown> {
  const ip = n.internalIP ?? '10.0.0.11';
  const at = '2026-01-01T00:00:00Z';
  return {
    kind: 'Node', apiVersion: 'v1',
    metadata: {
      name: n.name, uid: n.uid, resourceVersion: '51234', creationTimestamp: at,
      labels: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', ...n.labels },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] },
    status: {
      capacity: { cpu: '4', 'ephemeral-storage': '102626232Ki', memory: '16393212Ki', pods: '110' },
      allocatable: { cpu: '4', 'ephemeral-storage': '94580335255', memory: '16290812Ki', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: at, lastTransitionTime: at, reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: n.name }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: 'f3b1c2d4e5f60718293a4b5c6d7e8f90', systemUUID: 'ec2a1b2c-3d4e-5f60-7182-93a4b5c6d7e8', bootID: '6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
        kernelVersion: '6.1.0-18-amd64', osImage: 'Debian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'containerd://1.7.13',
        kubeletVersion: 'v1.30.2', kubeProxyVersion: 'v1.30.2', operatingSystem: 'linux', architecture: 'amd64',
      },
      images: [{ names: ['registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097', 'registry.k8s.io/pause:3.9'], sizeBytes: 321520 }],
    },
  };
}

/** Go's %q of a []string: ["a" "b"]. */
const goQuoted = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** Validates against the schema, then writes the JSON in a few chunks without Content-Length. */
function sendChunked(res: ServerResponse, code: number, model: { validate(): void; toJSON(): unknown }): void {
  model.validate();
  const text = JSON.stringify(model.toJSON());
  res.writeHead(code, { 'Content-Type': 'application/json', 'Audit-Id': randomUUID() });
  const step = Math.max(1, Math.ceil(text.length / 3));
  for (let i = 0; i < text.length; i += step) res.write(text.slice(i, i + step));
  res.end();
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string, details?: Record<string, string>): void {
  const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
  res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

/** A CA and a serving certificate for 127.0.0.1 / localhost, as a cluster's API server CA would issue. */
async function servingPki(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const gen = () => webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const notBefore = new Date(Date.now() - 60_000), notAfter = new Date(Date.now() + 24 * 3600_000);
  const caKeys = await gen(), keys = await gen();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=kubernetes', notBefore, notAfter, signingAlgorithm: alg, keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=kube-apiserver', issuer: ca.subject, notBefore, notAfter, signingAlgorithm: alg,
    publicKey: keys.publicKey, signingKey: caKeys.privateKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }, { type: 'dns', value: 'kubernetes.default.svc' }]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { caPem: ca.toString('pem'), certPem: cert.toString('pem'), keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
}
