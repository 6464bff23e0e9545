import 'reflect-metadata'; // @peculiar/x509 (tsyringe) throws at load without it
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { ExecutionContext } from 'ava';
import * as x509 from '@peculiar/x509';
import { tempDir } from '../helpers/tmp.ts';

/**
 * A small, real kubelet: GET /pods over HTTPS on 127.0.0.1 (port 0) with a serving
 * certificate from a CA made at test time, answering a v1 PodList in the shape the
 * kubelet returns. Requests must carry the service account bearer token or a client
 * certificate from the same CA, as the secure port demands; `plainHttp` serves the
 * read-only port instead (no TLS, no auth).
 */
export interface FakePodContainer {
  name: string;
  /** 64-hex runtime ID; omitted while the container is still being created. */
  id?: string;
  image: string;
  imageId?: string;
  /** Prefix of containerID in status: containerd (default), cri-o, docker. */
  runtime?: 'containerd' | 'cri-o' | 'docker';
  init?: boolean;
  restartCount?: number;
}

export interface FakePod {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount?: string;
  nodeName?: string;
  labels?: Record<string, string>;
  containers: FakePodContainer[];
}

export type KubeletFakeMode =
  | { kind: 'normal' }
  | { kind: 'status'; status: number; body: string }
  | { kind: 'malformed'; body: string }
  | { kind: 'oversized'; bytes: number };

export interface TestPki {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

export class FakeKubelet {
  pods: FakePod[] = [];
  mode: KubeletFakeMode = { kind: 'normal' };
  requests = 0;
  private listsServed = 0;
  private pendingPods: { afterLists: number; pod: FakePod }[] = [];
  readonly token = 'test-sa-token-' + Math.random().toString(36).slice(2);

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly dir: string,
    readonly caPath: string,
    readonly tokenPath: string,
    readonly clientCertPath: string,
    readonly clientKeyPath: string,
  ) {}

  static async start(t: ExecutionContext, opts: { plainHttp?: boolean; pki?: TestPki } = {}): Promise<FakeKubelet> {
    const dir = tempDir(t, 'kl-');
    const pki = opts.pki ?? await makeTestPki();
    const paths = { ca: join(dir, 'ca.crt'), token: join(dir, 'token'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key') };
    writeFileSync(paths.ca, pki.caPem);
    writeFileSync(paths.cert, pki.clientCertPem);
    writeFileSync(paths.key, pki.clientKeyPem, { mode: 0o600 });
    let fake!: FakeKubelet;
    const handler = (req: IncomingMessage, res: ServerResponse) => fake.handle(req, res, !opts.plainHttp);
    const server: Server = opts.plainHttp
      ? createHttpServer(handler)
      : createHttpsServer({ cert: pki.serverCertPem, key: pki.serverKeyPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: false }, handler);
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
    const port = (server.address() as { port: number }).port;
    fake = new FakeKubelet(server, port, dir, paths.ca, paths.token, paths.cert, paths.key);
    writeFileSync(paths.token, fake.token + '\n');
    t.teardown(() => fake.close());
    return fake;
  }

  /** Adds the pod after `ms`, as the kubelet learns of a pod some time after its process starts. */
  addPodAfter(ms: number, pod: FakePod): void {
    setTimeout(() => this.pods.push(pod), ms).unref();
  }

  /** Adds the pod once the kubelet has answered `lists` pod lists without it (deterministic under load). */
  addPodAfterLists(lists: number, pod: FakePod): void {
    this.pendingPods.push({ afterLists: lists, pod });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, secure: boolean): void {
    this.requests++;
    if (secure) {
      const bearer = req.headers.authorization === `Bearer ${this.token}`;
      const clientCert = (req.socket as TLSSocket).authorized === true;
      if (!bearer && !clientCert) { res.writeHead(401, { 'Content-Type': 'text/plain' }); res.end('Unauthorized'); return; }
    }
    if (req.method !== 'GET' || req.url !== '/pods') { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('404 page not found'); return; }
    const mode = this.mode;
    if (mode.kind === 'status') { res.writeHead(mode.status, { 'Content-Type': 'text/plain' }); res.end(mode.body); return; }
    if (mode.kind === 'malformed') { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(mode.body); return; }
    if (mode.kind === 'oversized') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let left = mode.bytes;
      res.on('error', () => undefined);
      const pump = () => {
        while (left > 0) { left -= chunk.length; if (!res.write(chunk)) return void res.once('drain', pump); }
        res.end();
      };
      return pump();
    }
    for (const p of this.pendingPods.filter((x) => this.listsServed >= x.afterLists)) this.pods.push(p.pod);
    this.pendingPods = this.pendingPods.filter((x) => this.listsServed < x.afterLists);
    this.listsServed++;
    const body = JSON.stringify(podListJson(this.pods));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** The kubelet's /pods answer: a v1 PodList of full Pod objects. */
export function podListJson(pods: FakePod[]): Record<string, unknown> {
  return { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: pods.map(podJson) };
}

export function podJson(p: FakePod): Record<string, unknown> {
  const sa = p.serviceAccount ?? 'default';
  const regular = p.containers.filter((c) => !c.init);
  const init = p.containers.filter((c) => c.init);
  const spec = (c: FakePodContainer) => ({
    name: c.name, image: c.image, imagePullPolicy: 'IfNotPresent', resources: {},
    terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
    volumeMounts: [{ name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
  });
  const status = (c: FakePodContainer) => ({
    name: c.name,
    state: c.id ? { running: { startedAt: '2026-01-01T00:00:05Z' } } : { waiting: { reason: 'ContainerCreating' } },
    lastState: {},
    ready: Boolean(c.id),
    restartCount: c.restartCount ?? 0,
    image: c.image,
    imageID: c.imageId ?? '',
    ...(c.id ? { containerID: `${c.runtime ?? 'containerd'}://${c.id}` } : {}),
    started: Boolean(c.id),
  });
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: p.name,
      generateName: p.name.replace(/[^-]+$/, ''),
      namespace: p.namespace,
      uid: p.uid,
      resourceVersion: '48213',
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: p.labels ?? {},
      annotations: { 'kubernetes.io/config.seen': '2026-01-01T00:00:01.000000000Z', 'kubernetes.io/config.source': 'api' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: p.name.replace(/-[^-]+$/, ''), uid: '00000000-0000-4000-8000-000000000001', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      volumes: [{ name: 'kube-api-access-x7k2p', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
      ...(init.length ? { initContainers: init.map(spec) } : {}),
      containers: regular.map(spec),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: sa,
      serviceAccount: sa,
      nodeName: p.nodeName ?? 'node-1',
      securityContext: {},
      schedulerName: 'default-scheduler',
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:06Z' }],
      hostIP: '10.0.0.11',
      podIP: '10.244.1.17',
      podIPs: [{ ip: '10.244.1.17' }],
      startTime: '2026-01-01T00:00:01Z',
      ...(init.length ? { initContainerStatuses: init.map(status) } : {}),
      containerStatuses: regular.map(status),
      qosClass: 'BestEffort',
    },
  };
}

/** A throwaway CA with a kubelet serving certificate (node-1, 127.0.0.1) and a client certificate. */
export async function makeTestPki(): Promise<TestPki> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3600_000);
  const gen = () => webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const caKeys = await gen();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=test-kubelet-ca', notBefore, notAfter, signingAlgorithm: alg, keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  const leaf = async (cn: string, serial: string, ext: x509.Extension[]) => {
    const keys = await gen();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial, subject: `CN=${cn}`, issuer: ca.subject, notBefore, notAfter, signingAlgorithm: alg,
      publicKey: keys.publicKey, signingKey: caKeys.privateKey, extensions: ext,
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
  };
  const server = await leaf('node-1', '02', [
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'node-1' }, { type: 'ip', value: '10.0.0.11' }]),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  ]);
  const client = await leaf('system:serviceaccount:tessera:agent', '03', [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  ]);
  return { caPem: ca.toString('pem'), serverCertPem: server.cert, serverKeyPem: server.key, clientCertPem: client.cert, clientKeyPem: client.key };
}
