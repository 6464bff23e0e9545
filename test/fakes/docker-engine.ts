import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { tempDir } from '../helpers/tmp.ts';

/**
 * A small, real Docker Engine API: HTTP/1.1 on a Unix socket in a temp dir, answering
 * GET /containers/{id}/json and GET /images/{name}/json (optionally under /v1.xx/)
 * with the shape the real daemon returns, built from a few fields per container.
 */
export interface FakeContainer {
  id: string;
  /** Without the leading "/" (the fake adds it, as the daemon stores it). */
  name: string;
  /** Config.Image: the reference it was started from. */
  image: string;
  /** Image: the local image ID. */
  imageId: string;
  labels?: Record<string, string>;
  env?: string[];
  pid?: number;
}

export interface FakeImage {
  id: string;
  repoTags?: string[];
  /** The containerd image store adds a target Descriptor and its Id is the manifest digest. */
  containerdStore?: boolean;
}

export type DockerFakeMode =
  | { kind: 'normal' }
  | { kind: 'oversized'; bytes: number }
  | { kind: 'malformed' }
  | { kind: 'status'; status: number; message: string }
  | { kind: 'hang' };

export class FakeDockerEngine {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Map<string, FakeImage>();
  readonly requests: string[] = [];
  mode: DockerFakeMode = { kind: 'normal' };

  private constructor(readonly socketPath: string, private readonly server: Server) {}

  static async start(t: ExecutionContext): Promise<FakeDockerEngine> {
    const socketPath = join(tempDir(t, 'dk-'), 'docker.sock');
    let fake!: FakeDockerEngine;
    const server = createServer((req, res) => fake.handle(req.method ?? '', req.url ?? '', res));
    fake = new FakeDockerEngine(socketPath, server);
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socketPath, resolve); });
    t.teardown(() => fake.close());
    return fake;
  }

  addContainer(c: FakeContainer, image: Partial<FakeImage> = {}): void {
    this.containers.set(c.id, c);
    this.images.set(c.imageId, { id: c.imageId, repoTags: [c.image], ...image });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(method: string, url: string, res: ServerResponse): void {
    this.requests.push(`${method} ${url}`);
    const path = url.replace(/^\/v\d+\.\d+/, '').split('?')[0]!;
    const mode = this.mode;
    if (mode.kind === 'hang') return; // never answers: the client's timeout must fire
    if (mode.kind === 'status') return send(res, mode.status, { message: mode.message });
    if (mode.kind === 'malformed') { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"Id": "abc", "Config": {'); return; }
    if (mode.kind === 'oversized') {
      // Chunked, without Content-Length, so the client must count bytes as they arrive.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let left = mode.bytes;
      const pump = () => {
        while (left > 0) { left -= chunk.length; if (!res.write(chunk)) return void res.once('drain', pump); }
        res.end();
      };
      res.on('error', () => undefined);
      return pump();
    }
    let m: RegExpExecArray | null;
    if (method === 'GET' && (m = /^\/containers\/([^/]+)\/json$/.exec(path))) {
      const id = decodeURIComponent(m[1]!);
      const c = this.containers.get(id) ?? [...this.containers.values()].find((x) => x.id.startsWith(id) || x.name === id);
      return c ? send(res, 200, containerInspectJson(c, this.images.get(c.imageId))) : send(res, 404, { message: `No such container: ${id}` });
    }
    if (method === 'GET' && (m = /^\/images\/(.+)\/json$/.exec(path))) {
      const name = decodeURIComponent(m[1]!);
      const img = this.images.get(name);
      return img ? send(res, 200, imageInspectJson(img)) : send(res, 404, { message: `No such image: ${name}` });
    }
    send(res, 404, { message: 'page not found' });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Api-Version': '1.47', Server: 'Docker/27.3.1 (linux)' });
  res.end(text);
}

/** GET /containers/{id}/json, in the shape Docker Engine 27 returns (fields the daemon always sends). */
export function containerInspectJson(c: FakeContainer, image?: FakeImage): Record<string, unknown> {
  const root = `/var/lib/docker/containers/${c.id}`;
  return {
    Id: c.id,
    Created: '2026-01-01T00:00:00.000000000Z',
    Path: '/usr/local/bin/agent',
    Args: ['serve'],
    State: {
      Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
      Pid: c.pid ?? 4242, ExitCode: 0, Error: '', StartedAt: '2026-01-01T00:00:01.000000000Z', FinishedAt: '0001-01-01T00:00:00Z',
    },
    Image: c.imageId,
    ResolvConfPath: `${root}/resolv.conf`,
    HostnamePath: `${root}/hostname`,
    HostsPath: `${root}/hosts`,
    LogPath: `${root}/${c.id}-json.log`,
    Name: `/${c.name}`,
    RestartCount: 0,
    Driver: image?.containerdStore ? 'overlayfs' : 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: 'docker-default',
    ExecIDs: null,
    HostConfig: { NetworkMode: 'bridge', RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: false, Privileged: false, ReadonlyRootfs: false },
    GraphDriver: { Data: null, Name: image?.containerdStore ? 'overlayfs' : 'overlay2' },
    Mounts: [],
    Config: {
      Hostname: c.id.slice(0, 12), Domainname: '', User: '', AttachStdin: false, AttachStdout: true, AttachStderr: true,
      Tty: false, OpenStdin: false, StdinOnce: false,
      Env: c.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['serve'], Image: c.image, Volumes: null, WorkingDir: '/', Entrypoint: ['/usr/local/bin/agent'], OnBuild: null,
      Labels: c.labels ?? {},
    },
    NetworkSettings: { Bridge: '', SandboxID: 'f'.repeat(64), Ports: {}, Networks: { bridge: { IPAddress: '172.17.0.2', Gateway: '172.17.0.1' } } },
    ...(image?.containerdStore ? { ImageManifestDescriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: c.imageId, size: 1234, platform: { architecture: 'amd64', os: 'linux' } } } : {}),
  };
}

/** GET /images/{name}/json, in the shape Docker Engine 27 returns. */
export function imageInspectJson(img: FakeImage): Record<string, unknown> {
  return {
    Id: img.id,
    RepoTags: img.repoTags ?? [],
    RepoDigests: [],
    Parent: '',
    Comment: 'buildkit.dockerfile.v0',
    Created: '2025-12-01T00:00:00Z',
    DockerVersion: '',
    Author: '',
    Config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['serve'], WorkingDir: '/', Labels: null },
    Architecture: 'amd64',
    Os: 'linux',
    Size: 12_345_678,
    GraphDriver: { Data: null, Name: img.containerdStore ? 'overlayfs' : 'overlay2' },
    RootFS: { Type: 'layers', Layers: ['sha256:' + 'a'.repeat(64)] },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    ...(img.containerdStore ? { Descriptor: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: img.id, size: 856 } } : {}),
  };
}
