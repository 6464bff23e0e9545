import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, rmdirSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { until } from './wait.ts';

/**
 * A real Docker daemon for tests: Debian's `dockerd` (package docker.io) with its own
 * socket, data root, exec root and config file in a temp dir, so nothing touches
 * /var/lib/docker, /var/run/docker.sock or /etc/docker. No network and no registry: the
 * vfs storage driver, no bridge, no iptables, and images made by `docker import` of a
 * root filesystem holding only a static busybox (Debian's busybox-static).
 *
 *   const dtest = await dockerdTests();                  // one daemon per test file
 *   dtest('...', async (t, d) => {
 *     const c = await d.run(t, { image: await d.baseImage(), labels: { team: 'agents' } });
 *     // c.pid: a real process in a real container
 *   });
 *
 * Started at import (ava cannot skip at run time), stopped after the file's last test:
 * containers removed, dockerd stopped by its pid, custom cgroup parents and the temp dir
 * removed. Where dockerd truly cannot start (not root, not installed, exits at start) the
 * tests are skipped with a loud message naming the reason; TESSERA_REQUIRE_DOCKERD=1 turns
 * that into a failure (for CI, where a skip would hide a missing package).
 */

/** The flags every test daemon runs with; `<dir>` is its temp dir. */
export function dockerdArgs(dir: string): string[] {
  return [
    '--host', `unix://${join(dir, 'docker.sock')}`,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'dockerd.pid'),
    // Not /etc/docker/daemon.json; it also moves the trust key out of /etc/docker.
    '--config-file', join(dir, 'daemon.json'),
    '--storage-driver=vfs',
    '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false',
    '--bridge=none',
    // Explicit: tests rely on the cgroupfs layout /<parent>/<id> (systemd is the default on cgroup v2 hosts).
    '--exec-opt', 'native.cgroupdriver=cgroupfs',
    '--log-level=warn',
  ];
}

export interface RunOptions {
  image: string;
  name?: string;
  labels?: Record<string, string>;
  /** "KEY=value" strings, as `docker run -e`. */
  env?: string[];
  /** `--cgroup-parent`, e.g. "/tessera-test/agents". Removed when the daemon stops. */
  cgroupParent?: string;
  /** Default: sleep (the container's process runs until removed). */
  cmd?: string[];
}

export interface RunningContainer {
  /** Full 64-hex ID, as `docker run -d` prints it. */
  id: string;
  /** Host pid of the container's init process (State.Pid). */
  pid: number;
}

const STOP_BOUND_MS = 30_000;
const LOG_KEEP = 64 * 1024;
const run = promisify(execFile);

export class Dockerd {
  readonly socketPath: string;
  private readonly cgroupParents = new Set<string>();
  private readonly images = new Map<string, Promise<string>>();
  private stopping?: Promise<void>;
  private output = '';
  private exited = false;
  private readonly exit: Promise<void>;

  private constructor(readonly dir: string, private readonly child: ChildProcess) {
    this.socketPath = join(dir, 'docker.sock');
    const keep = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-LOG_KEEP); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    // 'error' covers a spawn that failed (no 'exit' follows then).
    this.exit = new Promise((resolve) => {
      const done = () => { this.exited = true; resolve(); };
      child.once('exit', done);
      child.once('error', done);
    });
  }

  get pid(): number { return this.child.pid!; }
  /** The daemon's last output (bounded), for failure messages. */
  log(): string { return this.output; }

  /** Starts a daemon and waits until GET /_ping answers OK; throws (with its output) if it exits first. */
  static async start(): Promise<Dockerd> {
    const dir = mkdtempSync(join(tmpdir(), 'dkd-'));
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
    const child = spawn(findBinary('dockerd')!, dockerdArgs(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    const d = new Dockerd(dir, child);
    // Last resort if the worker dies without after.always: dockerd cleans up after a SIGTERM.
    const onExit = () => { if (!d.exited) try { process.kill(d.pid, 'SIGTERM'); } catch { /* gone */ } };
    process.once('exit', onExit);
    void d.exit.then(() => process.off('exit', onExit));
    const spawned = await new Promise<Error | undefined>((resolve) => { child.once('spawn', () => resolve(undefined)); child.once('error', resolve); });
    try {
      if (spawned) throw spawned;
      await until(async () => {
        if (d.exited) throw new Error(`dockerd exited during start:\n${d.output.slice(-4000)}`);
        return (await d.api('GET', '/_ping').catch(() => undefined))?.status === 200;
      }, 'dockerd to answer /_ping');
      return d;
    } catch (e) {
      await d.stop();
      throw e;
    }
  }

  /** Runs the docker CLI against this daemon; stdout, trimmed. Throws with the CLI's stderr. */
  async docker(args: string[]): Promise<string> {
    const env = { ...process.env, DOCKER_HOST: `unix://${this.socketPath}`, DOCKER_CONFIG: join(this.dir, 'cli') };
    try {
      const { stdout } = await run('docker', args, { env, maxBuffer: 64 * 1024 * 1024 });
      return stdout.trim();
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`docker ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
    }
  }

  /**
   * One Engine API call over the socket; the body is parsed as JSON when it is JSON.
   * Untyped by default (`any`): tests read the few daemon fields they check.
   */
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request({ socketPath: this.socketPath, method, path, headers: { Host: 'docker', ...(payload ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown = text;
          try { json = JSON.parse(text); } catch { /* text (e.g. /_ping's "OK") */ }
          resolve({ status: res.statusCode ?? 0, json: json as T });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * `docker import` of a root filesystem with a static busybox (sh, sleep, cat...) as
   * `tag`, with Dockerfile `changes` (LABEL, ENV...). Returns the image ID. Built once per
   * tag and daemon.
   */
  importBusybox(tag: string, changes: string[] = []): Promise<string> {
    let p = this.images.get(tag);
    if (!p) {
      p = (async () => {
        const root = join(this.dir, `rootfs-${this.images.size}`);
        mkdirSync(join(root, 'bin'), { recursive: true });
        copyFileSync(findStaticBusybox().path!, join(root, 'bin', 'busybox'));
        for (const applet of ['sh', 'sleep', 'cat', 'true']) symlinkSync('busybox', join(root, 'bin', applet));
        const tar = `${root}.tar`;
        await run('tar', ['--numeric-owner', '-C', root, '-cf', tar, '.']);
        return this.docker(['import', ...changes.flatMap((c) => ['--change', c]), tar, tag]);
      })();
      this.images.set(tag, p);
    }
    return p;
  }

  /** The plain test image `tessera-test/busybox:1`. */
  baseImage(): Promise<string> { return this.importBusybox('tessera-test/busybox:1').then(() => 'tessera-test/busybox:1'); }

  /** `docker run -d` (no network); removed (`rm -f`) when the test ends, or else when the daemon stops. */
  async run(t: Pick<ExecutionContext, 'teardown'> | undefined, o: RunOptions): Promise<RunningContainer> {
    if (o.cgroupParent) this.cgroupParents.add(o.cgroupParent);
    const args = ['run', '-d', '--network', 'none',
      ...Object.entries(o.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...(o.env ?? []).flatMap((e) => ['--env', e]),
      ...(o.cgroupParent ? ['--cgroup-parent', o.cgroupParent] : []),
      ...(o.name ? ['--name', o.name] : []),
      o.image, ...(o.cmd ?? ['/bin/sleep', '1000000'])];
    const id = await this.docker(args);
    t?.teardown(() => this.remove(id));
    return { id, pid: await this.pidOf(id) };
  }

  /** Host pid of a running container's init process. */
  async pidOf(id: string): Promise<number> {
    const { status, json } = await this.api('GET', `/containers/${id}/json`);
    if (status !== 200 || !(json.State?.Pid > 0)) throw new Error(`container ${id} is not running: HTTP ${status} ${JSON.stringify(json.State ?? json)}`);
    return json.State.Pid as number;
  }

  /**
   * `docker exec -d <id> <cmd>` and the host pid of the process it started: the exec is
   * the one ID new in the container's ExecIDs, and exec inspect reports its pid.
   */
  async exec(id: string, cmd: string[]): Promise<number> {
    const execIds = async () => ((await this.api('GET', `/containers/${id}/json`)).json.ExecIDs ?? []) as string[];
    const before = new Set(await execIds());
    await this.docker(['exec', '-d', id, ...cmd]);
    const added = (await execIds()).filter((e) => !before.has(e));
    if (added.length !== 1) throw new Error(`expected one new exec in ${id}, found ${added.length} (concurrent docker exec?)`);
    return until(async () => {
      const { json } = await this.api('GET', `/exec/${added[0]}/json`);
      return json.Running && json.Pid > 0 ? json.Pid as number : undefined;
    }, `exec ${added[0]} to be running`);
  }

  async remove(id: string): Promise<void> {
    if (this.exited) return;
    await this.api('DELETE', `/containers/${id}?force=1&v=1`).catch(() => undefined);
  }

  /** Removes every container, stops dockerd (SIGTERM, then SIGKILL past the bound), cleans up. Idempotent. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      if (!this.exited) {
        const list = await this.api<{ Id: string }[]>('GET', '/containers/json?all=1').catch(() => undefined);
        for (const c of Array.isArray(list?.json) ? list.json : []) await this.remove(c.Id);
        try { process.kill(this.pid, 'SIGTERM'); } catch { /* gone */ }
        const timer = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, STOP_BOUND_MS);
        await this.exit;
        clearTimeout(timer);
      }
      for (const p of this.cgroupParents) removeCgroupDirs(p);
      // Anything the daemon left mounted under its dirs (it unmounts on a clean stop).
      for (const m of mountsUnder(this.dir).reverse()) await run('umount', ['-l', m]).catch(() => undefined);
      rmSync(this.dir, { recursive: true, force: true });
    })());
  }
}

/** Why a test daemon cannot run on this machine, or undefined when it can be tried. */
export function dockerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return `dockerd needs root; running as uid ${process.getuid?.()}`;
  if (!findBinary('dockerd')) return 'dockerd is not installed (Debian package docker.io)';
  if (!findBinary('docker')) return 'the docker CLI is not installed (Debian package docker.io)';
  return findStaticBusybox().problem;
}

export type DockerdTest = (title: string, impl: (t: ExecutionContext, d: Dockerd) => Promise<void>) => void;

/**
 * One daemon for the calling test file (await at the top level). Returns a `test` whose
 * implementations get the daemon; where dockerd cannot start, every such test is skipped
 * and the reason printed loudly (or the file fails, with TESSERA_REQUIRE_DOCKERD=1).
 */
export async function dockerdTests(): Promise<DockerdTest> {
  // Imported here, not at the top: ava refuses to load outside its CLI, and the bench uses this file.
  const { default: test } = await import('ava');
  let reason = dockerdUnavailable();
  let daemon: Dockerd | undefined;
  if (!reason) {
    try { daemon = await Dockerd.start(); } catch (e) { reason = (e as Error).message; }
  }
  if (daemon) {
    const d = daemon;
    test.after.always('stop dockerd', () => d.stop());
    return (title, impl) => test(title, (t) => impl(t, d));
  }
  const banner = `\n${'!'.repeat(72)}\n!! SKIPPING real-dockerd tests: ${reason}\n${'!'.repeat(72)}\n`;
  if (process.env.TESSERA_REQUIRE_DOCKERD === '1') throw new Error(`TESSERA_REQUIRE_DOCKERD=1 but dockerd cannot run: ${reason}`);
  console.error(banner);
  return (title) => test.skip(title, () => undefined);
}

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/** The busybox binary, which must be statically linked: the image holds nothing else. */
function findStaticBusybox(): { path?: string; problem?: string } {
  const path = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!path) return { problem: 'busybox is not installed (Debian package busybox-static)' };
  return hasInterpreter(path) ? { problem: `${path} is dynamically linked (install busybox-static, not busybox)` } : { path };
}

/** True when an ELF64 file has a PT_INTERP program header (it needs a dynamic loader). */
function hasInterpreter(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    const phoff = Number(h.readBigUInt64LE(0x20)), phentsize = h.readUInt16LE(0x36), phnum = h.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return true;
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Mount points of cgroup hierarchies (v1 controllers and v2), from mountinfo. */
function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const [pre, post] = line.split(' - ');
    const fstype = post?.split(' ')[0];
    const f = pre?.split(' ');
    return (fstype === 'cgroup' || fstype === 'cgroup2') && f?.[3] === '/' ? [f[4]!] : [];
  });
}

/** rmdir's the (by now empty) directories runc made for a custom cgroup parent, deepest first. */
function removeCgroupDirs(parent: string): void {
  const parts = parent.split('/').filter(Boolean);
  for (const mount of cgroupMounts()) {
    for (let n = parts.length; n > 0; n--) {
      try { rmdirSync(join(mount, ...parts.slice(0, n))); } catch { /* not there, or still in use */ }
    }
  }
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => !!m && m.startsWith(`${dir}/`));
}
