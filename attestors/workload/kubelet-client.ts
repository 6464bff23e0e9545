import { readFile } from 'node:fs/promises';
import { TesseraError } from '../../common/errors.ts';
import { errorReason, getJsonBody, isObject, malformedResponse, parseJson } from './container-http.ts';

/**
 * A minimal kubelet client: GET /pods (a v1 PodList of the pods bound to this node),
 * parsed at the edge into the few fields the k8s attestor reads.
 *
 * Secure port (default): HTTPS, the kubelet's certificate checked against
 * `caPath`, authenticated by a client certificate or else a service account bearer
 * token. The token, CA and certificate files are re-read on every fetch, so rotated
 * projected tokens and renewed certificates are picked up without a restart (fetches
 * are cached by the caller, so this is cheap).
 *
 * Read-only port: plain HTTP, no authentication; only when explicitly configured.
 */
export interface KubeletClientOptions {
  host: string;
  /** Secure port, normally 10250. */
  port: number;
  /** When set, plain HTTP to this port instead (the kubelet's read-only port, normally 10255). */
  readOnlyPort?: number;
  caPath: string;
  /**
   * Name to check in the kubelet's certificate. Unset: the chain is still verified
   * against the CA but the name is not, because kubelet serving certificates name the
   * node while the agent dials 127.0.0.1.
   */
  serverName?: string;
  tokenPath: string;
  clientCertPath?: string;
  clientKeyPath?: string;
  timeoutMs: number;
  maxBytes: number;
}

export interface KubeletContainer {
  name: string;
  /** Runtime container ID without the "containerd://" style scheme. */
  containerId: string;
  image: string;
  imageId: string;
}

export interface KubeletPod {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount?: string;
  nodeName?: string;
  labels: Record<string, string>;
  /** Regular, init and ephemeral container statuses that carry a container ID. */
  containers: KubeletContainer[];
}

export class KubeletClient {
  readonly endpoint: string;
  constructor(private readonly opts: KubeletClientOptions) {
    this.endpoint = opts.readOnlyPort !== undefined
      ? `kubelet read-only port at http://${opts.host}:${opts.readOnlyPort}`
      : `kubelet at https://${opts.host}:${opts.port}`;
  }

  async listPods(signal?: AbortSignal): Promise<KubeletPod[]> {
    const path = '/pods';
    const bounds = { codePrefix: 'ERR_KUBELET', describe: this.endpoint, timeoutMs: this.opts.timeoutMs, maxBytes: this.opts.maxBytes, signal };
    const { status, body } = this.opts.readOnlyPort !== undefined
      ? await getJsonBody(bounds, { kind: 'http', options: { host: this.opts.host, port: this.opts.readOnlyPort, path, agent: false } })
      : await getJsonBody(bounds, { kind: 'https', options: { host: this.opts.host, port: this.opts.port, path, agent: false, ...(await this.tlsOptions()) } });
    const where = this.endpoint + path;
    if (status === 401) throw new TesseraError('unauthenticated', 'ERR_KUBELET_UNAUTHORIZED', `${where}: HTTP 401: the kubelet rejected our credentials (${errorReason(body)})`);
    if (status === 403) throw new TesseraError('permission_denied', 'ERR_KUBELET_FORBIDDEN', `${where}: HTTP 403: our identity may not list pods (needs nodes/proxy or nodes/pods get) (${errorReason(body)})`);
    if (status !== 200) throw new TesseraError('unavailable', 'ERR_KUBELET_HTTP', `${where}: HTTP ${status}: ${errorReason(body)}`);
    return parsePodList(parseJson('ERR_KUBELET', where, body), where);
  }

  private async tlsOptions(): Promise<Record<string, unknown>> {
    const o = this.opts;
    const ca = await readCredential(o.caPath, 'kubelet CA');
    const tls: Record<string, unknown> = { ca, rejectUnauthorized: true };
    if (o.serverName) tls.servername = o.serverName;
    else tls.checkServerIdentity = () => undefined;
    if (o.clientCertPath && o.clientKeyPath) {
      tls.cert = await readCredential(o.clientCertPath, 'client certificate');
      tls.key = await readCredential(o.clientKeyPath, 'client key');
    } else {
      const token = (await readCredential(o.tokenPath, 'service account token')).toString('utf8').trim();
      if (!token) throw new TesseraError('failed_precondition', 'ERR_KUBELET_CREDENTIALS', `kubelet: service account token file ${o.tokenPath} is empty`);
      tls.headers = { Authorization: `Bearer ${token}` };
    }
    return tls;
  }
}

async function readCredential(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new TesseraError('failed_precondition', 'ERR_KUBELET_CREDENTIALS', `kubelet: cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/**
 * PodList → KubeletPod[]. The list's structure must be right (else the response is
 * rejected); an individual pod missing identity fields is skipped, since it can never
 * be the one a caller matches.
 */
export function parsePodList(j: unknown, where: string): KubeletPod[] {
  if (!isObject(j) || !Array.isArray(j.items)) throw malformed(where, 'expected a PodList object with an "items" list');
  const pods: KubeletPod[] = [];
  for (const item of j.items) {
    if (!isObject(item) || !isObject(item.metadata)) continue;
    const md = item.metadata;
    if (typeof md.uid !== 'string' || typeof md.name !== 'string' || typeof md.namespace !== 'string') continue;
    const spec = isObject(item.spec) ? item.spec : {};
    const status = isObject(item.status) ? item.status : {};
    const labels: Record<string, string> = {};
    if (isObject(md.labels)) for (const [k, v] of Object.entries(md.labels)) if (typeof v === 'string') labels[k] = v;
    const sa = str(spec.serviceAccountName) ?? str(spec.serviceAccount);
    pods.push({
      uid: md.uid.toLowerCase(),
      name: md.name,
      namespace: md.namespace,
      ...(sa ? { serviceAccount: sa } : {}),
      ...(str(spec.nodeName) ? { nodeName: str(spec.nodeName) } : {}),
      labels,
      containers: [status.containerStatuses, status.initContainerStatuses, status.ephemeralContainerStatuses].flatMap(containerStatuses),
    });
  }
  return pods;
}

function containerStatuses(list: unknown): KubeletContainer[] {
  if (!Array.isArray(list)) return [];
  const out: KubeletContainer[] = [];
  for (const s of list) {
    if (!isObject(s) || typeof s.name !== 'string' || typeof s.containerID !== 'string') continue;
    // "containerd://<id>", "cri-o://<id>", "docker://<id>"; empty while the container is being created.
    const m = /^[a-z0-9.+-]+:\/\/([0-9a-f]+)$/.exec(s.containerID);
    if (!m) continue;
    out.push({ name: s.name, containerId: m[1]!, image: str(s.image) ?? '', imageId: str(s.imageID) ?? '' });
  }
  return out;
}

const malformed = (where: string, why: string): TesseraError => malformedResponse('ERR_KUBELET', where, why);

function str(v: unknown): string | undefined { return typeof v === 'string' && v !== '' ? v : undefined; }
