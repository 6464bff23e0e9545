import { t, type Field } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { TesseraError } from '../../common/errors.ts';
import { readContainerRef } from './cgroup.ts';
import { DockerClient, type DockerContainer } from './docker-client.ts';
import { collectSelectors } from './container-selectors.ts';
import {
  INSTANCE_STRENGTH,
  type WorkloadAttestation,
  type WorkloadAttestor,
  type WorkloadAttestorFactory,
  type WorkloadProcess,
} from './types.ts';

/**
 * Docker workload attestor: caller pid → container ID (from /proc/<pid>/cgroup) →
 * container inspect over the Engine API socket → `docker:*` selectors, plus an
 * instance claim keyed by the container ID (a restarted `docker run` is a new container).
 */
export interface DockerAttestorConfig {
  socket_path: string;
  api_version: string | undefined;
  /** Only these env keys become `docker:env:<k>:<v>` (env often holds secrets). */
  env_keys: string[];
  proc_root: string;
  /** Seconds. */
  timeout: number;
  max_response_bytes: number;
}

export const dockerConfig: Field<DockerAttestorConfig> = t.object({
  socket_path: t.string({ default: '/var/run/docker.sock', nonEmpty: true }),
  api_version: t.optional(t.string({ pattern: /^\d+\.\d+$/ })),
  env_keys: t.array(t.string({ nonEmpty: true, pattern: /^[^=]+$/ }), { default: [] }),
  proc_root: t.string({ default: '/proc', nonEmpty: true }),
  timeout: t.duration({ default: 3, min: 0.01, max: 60 }),
  max_response_bytes: t.number({ default: 1024 * 1024, min: 1024, integer: true }),
});

export class DockerWorkloadAttestor implements WorkloadAttestor {
  readonly name = 'docker';
  private readonly client: DockerClient;
  private readonly envKeys: ReadonlySet<string>;

  constructor(private readonly config: DockerAttestorConfig, private readonly logger: Logger) {
    this.client = new DockerClient({
      socketPath: config.socket_path,
      apiVersion: config.api_version,
      timeoutMs: Math.round(config.timeout * 1000),
      maxBytes: config.max_response_bytes,
    });
    this.envKeys = new Set(config.env_keys);
  }

  async attest(proc: WorkloadProcess, signal?: AbortSignal): Promise<WorkloadAttestation> {
    const ref = await readContainerRef(this.config.proc_root, proc.pid);
    // A host process, or a container another runtime owns: nothing for Docker to say.
    if (!ref || (ref.runtime !== 'docker' && ref.runtime !== 'unknown')) return { selectors: [] };

    const c = await this.client.inspectContainer(ref.containerId, signal);
    if (c.id !== ref.containerId) {
      throw new TesseraError('internal', 'ERR_DOCKER_CONTAINER_MISMATCH', `${this.client.endpoint}: asked for container ${ref.containerId}, got ${c.id}`);
    }
    const values = [
      ...Object.entries(c.labels).map(([k, v]) => `label:${k}:${v}`),
      ...(c.imageRef ? [`image_id:${c.imageRef}`] : []),
      ...this.envValues(c),
      ...(c.name ? [`container_name:${c.name}`] : []),
    ];
    const digest = await this.configDigest(c, signal);
    if (digest) values.push(`image_config_digest:${digest}`);
    return {
      selectors: collectSelectors('docker', values, this.logger),
      instance: { strength: INSTANCE_STRENGTH.container, key: `docker:${c.id}` },
    };
  }

  private envValues(c: DockerContainer): string[] {
    const out: string[] = [];
    if (this.envKeys.size === 0) return out;
    for (const kv of c.env) {
      const i = kv.indexOf('=');
      const k = i < 0 ? kv : kv.slice(0, i);
      if (this.envKeys.has(k)) out.push(`env:${k}:${i < 0 ? '' : kv.slice(i + 1)}`);
    }
    return out;
  }

  /**
   * The image config digest. On the classic image store the image ID *is* the config
   * digest; on the containerd image store it is the manifest digest, which is a different
   * thing, so there we emit nothing rather than a wrong value. Missing image or a failed
   * lookup also leaves the selector out (an entry pinned to a digest then does not match).
   */
  private async configDigest(c: DockerContainer, signal?: AbortSignal): Promise<string | undefined> {
    if (!/^sha256:[0-9a-f]{64}$/.test(c.imageId) || c.hasManifestDescriptor) return undefined;
    try {
      const img = await this.client.inspectImage(c.imageId, signal);
      if (!img) { this.logger.warn('docker attestor: image of container is gone; no image_config_digest', { container: c.id, image: c.imageId }); return undefined; }
      if (img.hasDescriptor) return undefined;
      return img.id === c.imageId ? img.id : undefined;
    } catch (e) {
      if (signal?.aborted) throw e;
      this.logger.warn('docker attestor: image inspect failed; no image_config_digest', { container: c.id, image: c.imageId, error: e as Error });
      return undefined;
    }
  }
}

export const dockerWorkloadAttestorFactory: WorkloadAttestorFactory<DockerAttestorConfig> = {
  name: 'docker',
  config: dockerConfig,
  create: (config, deps) => new DockerWorkloadAttestor(config, deps.logger.child({ attestor: 'docker' })),
  // Container inspect, then image inspect, in sequence, each bounded by `timeout`.
  worstCaseMs: (config) => 2 * config.timeout * 1000,
};
