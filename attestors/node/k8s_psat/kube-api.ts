import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { AttestationError } from '../../../common/errors.ts';
import { errorReason, isObject } from '../../workload/container-http.ts';
import { parseNode, parsePod, parseTokenReviewStatus, type KubeNode, type KubePod, type TokenReviewStatus } from './objects.ts';

/**
 * The three kube-apiserver calls k8s_psat makes, over node:https: TokenReview
 * (authentication.k8s.io/v1), and GET of a Pod and a Node (core/v1). The server
 * authenticates with its own service-account bearer token; token and CA files are
 * re-read per request, because the kubelet rotates projected tokens under a running
 * server. Every call has a deadline and a response size bound, and every failure is an
 * AttestationError naming the cluster, the URL and the reason.
 */
export interface KubeApiOptions {
  /** Cluster name, for messages. */
  cluster: string;
  /** https://host[:port][/prefix] */
  apiServer: string;
  caFile: string;
  tokenFile: string;
  timeoutMs: number;
  /** Largest response body read; default 4 MiB (a Node lists every image it holds). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 4 << 20;
const API_CODE = 'ERR_K8S_PSAT_API';

export class KubeApiClient {
  private readonly base: URL;
  constructor(private readonly o: KubeApiOptions) {
    this.base = new URL(o.apiServer.endsWith('/') ? o.apiServer : `${o.apiServer}/`);
  }

  /** POST a TokenReview asking for `audiences`; the caller decides what the status means. */
  async tokenReview(token: string, audiences: string[], signal?: AbortSignal): Promise<TokenReviewStatus> {
    const review = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } };
    const path = 'apis/authentication.k8s.io/v1/tokenreviews';
    const r = await this.send('POST', path, review, signal);
    if (r.status !== 201 && r.status !== 200) throw this.statusError(r, path, 'create tokenreviews');
    const j = this.json(r.body, path);
    if (!isObject(j) || j.kind !== 'TokenReview' || !isObject(j.status)) throw this.malformed(path, 'expected a TokenReview with a status');
    return parseTokenReviewStatus(j.status, (why) => this.malformed(path, why));
  }

  /** The pod, or undefined when the API says it does not exist (404). */
  async getPod(namespace: string, name: string, signal?: AbortSignal): Promise<KubePod | undefined> {
    const path = `api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
    return this.getObject(path, 'get pods', (j) => parsePod(j, (why) => this.malformed(path, why)), signal);
  }

  async getNode(name: string, signal?: AbortSignal): Promise<KubeNode | undefined> {
    const path = `api/v1/nodes/${encodeURIComponent(name)}`;
    return this.getObject(path, 'get nodes', (j) => parseNode(j, (why) => this.malformed(path, why)), signal);
  }

  private async getObject<T>(path: string, verb: string, parse: (j: unknown) => T, signal?: AbortSignal): Promise<T | undefined> {
    const r = await this.send('GET', path, undefined, signal);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw this.statusError(r, path, verb);
    return parse(this.json(r.body, path));
  }

  private where(path: string): string {
    return `k8s_psat: cluster "${this.o.cluster}": kube-apiserver ${new URL(path, this.base).href}`;
  }

  private async send(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: Buffer }> {
    const url = new URL(path, this.base);
    const where = this.where(path);
    const ca = await this.readCredential(this.o.caFile, 'ca_file');
    const token = (await this.readCredential(this.o.tokenFile, 'token_file')).toString('utf8').trim();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const deadline = AbortSignal.timeout(this.o.timeoutMs);
    const limit = this.o.maxBytes ?? DEFAULT_MAX_BYTES;
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method, ca, agent: false, signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
        headers: {
          Accept: 'application/json', Authorization: `Bearer ${token}`,
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          // Stop at the bound: a broken or hostile endpoint must not make the server buffer without limit.
          if (size > limit) { req.destroy(); return reject(new AttestationError('internal', `${API_CODE}_RESPONSE_TOO_LARGE`, `${where}: response larger than ${limit} bytes`)); }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(this.transportError(where, e, deadline)));
      });
      req.on('error', (e) => reject(this.transportError(where, e, deadline)));
      req.end(payload);
    });
  }

  private transportError(where: string, e: NodeJS.ErrnoException, deadline: AbortSignal): AttestationError {
    if (deadline.aborted) return new AttestationError('unavailable', `${API_CODE}_TIMEOUT`, `${where}: no complete response within ${this.o.timeoutMs} ms`, { cause: e });
    return new AttestationError('unavailable', `${API_CODE}_UNAVAILABLE`, `${where}: ${e.code ? `${e.code} ` : ''}${e.message}`, { cause: e });
  }

  /**
   * 401/403 are the server's own credentials or RBAC (nothing the agent can fix: internal);
   * 429 and 5xx are the API server being busy or down (unavailable: the agent retries).
   */
  private statusError(r: { status: number; body: Buffer }, path: string, verb: string): AttestationError {
    const where = this.where(path);
    const reason = errorReason(r.body);
    if (r.status === 401) {
      return new AttestationError('internal', `${API_CODE}_UNAUTHORIZED`, `${where}: HTTP 401: the kube-apiserver rejected the server's credentials (token_file ${this.o.tokenFile}): ${reason}`);
    }
    if (r.status === 403) {
      return new AttestationError('internal', `${API_CODE}_FORBIDDEN`, `${where}: HTTP 403: the server's service account may not ${verb} (RBAC: tokenreviews create, pods and nodes get): ${reason}`);
    }
    const kind = r.status === 429 || r.status >= 500 ? 'unavailable' : 'internal';
    return new AttestationError(kind, `${API_CODE}_HTTP`, `${where}: HTTP ${r.status}: ${reason}`);
  }

  private json(body: Buffer, path: string): unknown {
    try { return JSON.parse(body.toString('utf8')); } catch (e) {
      throw new AttestationError('internal', `${API_CODE}_MALFORMED_RESPONSE`, `${this.where(path)}: response is not JSON: ${(e as Error).message}`, { cause: e });
    }
  }

  private malformed(path: string, why: string): AttestationError {
    return new AttestationError('internal', `${API_CODE}_MALFORMED_RESPONSE`, `${this.where(path)}: unexpected response: ${why}`);
  }

  private async readCredential(path: string, key: string): Promise<Buffer> {
    try { return await readFile(path); } catch (e) {
      throw new AttestationError('internal', `${API_CODE}_CREDENTIALS`,
        `k8s_psat: cluster "${this.o.cluster}": cannot read ${key} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
  }
}
