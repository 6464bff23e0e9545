import { TesseraError } from '../../common/errors.ts';
import { errorReason, getJsonBody, isObject, malformedResponse, parseJson } from './container-http.ts';

/**
 * A minimal Docker Engine API client: HTTP/1.1 over the daemon's Unix socket, the two
 * read-only calls the docker attestor needs, parsed at the edge into small typed views.
 *   GET /containers/{id}/json  (ContainerInspectResponse)
 *   GET /images/{name}/json    (ImageInspect)
 */
export interface DockerClientOptions {
  socketPath: string;
  /** e.g. "1.43"; without it the daemon answers with its own (newest) version. */
  apiVersion?: string;
  timeoutMs: number;
  maxBytes: number;
}

export interface DockerContainer {
  /** Full 64-hex container ID. */
  id: string;
  /** Name without the leading "/" Docker stores. */
  name: string;
  /** Config.Image: the image reference the container was created from ("nginx:1.27"). */
  imageRef: string;
  /** Image: the local image ID ("sha256:..."). */
  imageId: string;
  labels: Record<string, string>;
  /** Config.Env as "KEY=value" strings. */
  env: string[];
  /** True when the daemon reports the platform manifest it ran (containerd image store, API >= 1.48). */
  hasManifestDescriptor: boolean;
}

export interface DockerImage {
  /** Image ID: the config digest on the classic store, the manifest digest on the containerd store. */
  id: string;
  /** The containerd image store reports a target Descriptor (API >= 1.48); the classic store does not. */
  hasDescriptor: boolean;
}

export class DockerClient {
  readonly endpoint: string;
  constructor(private readonly opts: DockerClientOptions) {
    this.endpoint = `docker engine at unix://${opts.socketPath}`;
  }

  async inspectContainer(id: string, signal?: AbortSignal): Promise<DockerContainer> {
    const path = `${this.prefix()}/containers/${encodeURIComponent(id)}/json`;
    const { status, body } = await this.get(path, signal);
    if (status === 404) {
      throw new TesseraError('not_found', 'ERR_DOCKER_CONTAINER_NOT_FOUND', `${this.endpoint}: no container ${id} (${errorReason(body)})`);
    }
    if (status !== 200) throw this.httpError(path, status, body);
    return parseContainer(parseJson('ERR_DOCKER', this.endpoint + path, body), this.endpoint + path);
  }

  /** undefined when the image is gone (removed with `rmi -f` while the container runs). */
  async inspectImage(name: string, signal?: AbortSignal): Promise<DockerImage | undefined> {
    const path = `${this.prefix()}/images/${encodeURIComponent(name)}/json`;
    const { status, body } = await this.get(path, signal);
    if (status === 404) return undefined;
    if (status !== 200) throw this.httpError(path, status, body);
    const j = parseJson('ERR_DOCKER', this.endpoint + path, body);
    if (!isObject(j) || typeof j.Id !== 'string') throw malformed(this.endpoint + path, 'missing string field "Id"');
    return { id: j.Id, hasDescriptor: isObject(j.Descriptor) };
  }

  private prefix(): string { return this.opts.apiVersion ? `/v${this.opts.apiVersion}` : ''; }

  private get(path: string, signal?: AbortSignal) {
    return getJsonBody(
      { codePrefix: 'ERR_DOCKER', describe: this.endpoint, timeoutMs: this.opts.timeoutMs, maxBytes: this.opts.maxBytes, signal },
      // Docker ignores Host on its socket but HTTP/1.1 requires one.
      { kind: 'http', options: { socketPath: this.opts.socketPath, path, headers: { Host: 'docker' } } },
    );
  }

  private httpError(path: string, status: number, body: Buffer): TesseraError {
    return new TesseraError('unavailable', 'ERR_DOCKER_HTTP', `${this.endpoint}${path}: HTTP ${status}: ${errorReason(body)}`);
  }
}

function parseContainer(j: unknown, where: string): DockerContainer {
  if (!isObject(j)) throw malformed(where, 'not a JSON object');
  const { Id, Name, Image, Config } = j;
  if (typeof Id !== 'string' || !/^[0-9a-f]{64}$/.test(Id)) throw malformed(where, `"Id" must be 64 hex characters, got ${JSON.stringify(Id)}`);
  if (typeof Name !== 'string') throw malformed(where, 'missing string field "Name"');
  if (typeof Image !== 'string') throw malformed(where, 'missing string field "Image"');
  if (!isObject(Config)) throw malformed(where, 'missing object field "Config"');
  const labels: Record<string, string> = {};
  if (Config.Labels !== null && Config.Labels !== undefined) {
    if (!isObject(Config.Labels)) throw malformed(where, '"Config.Labels" must be an object');
    for (const [k, v] of Object.entries(Config.Labels)) {
      if (typeof v !== 'string') throw malformed(where, `label ${JSON.stringify(k)} is not a string`);
      labels[k] = v;
    }
  }
  let env: string[] = [];
  if (Config.Env !== null && Config.Env !== undefined) {
    if (!Array.isArray(Config.Env) || !Config.Env.every((e) => typeof e === 'string')) throw malformed(where, '"Config.Env" must be a list of strings');
    env = Config.Env as string[];
  }
  return {
    id: Id,
    name: Name.replace(/^\//, ''),
    imageRef: typeof Config.Image === 'string' ? Config.Image : '',
    imageId: Image,
    labels,
    env,
    hasManifestDescriptor: isObject(j.ImageManifestDescriptor),
  };
}

const malformed = (where: string, why: string): TesseraError => malformedResponse('ERR_DOCKER', where, why);
