import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../../common/errors.ts';

/**
 * Container identity of a process, read from /proc/<pid>/cgroup: the kernel, not the
 * caller, says which cgroup a process lives in, and container runtimes name those
 * cgroups after the container ID (and, under Kubernetes, the pod UID).
 *
 * Layouts understood (cgroup v1 lines `N:controllers:/path`, v2 line `0::/path`):
 *   docker, cgroupfs driver      /docker/<id>
 *   docker, systemd driver       /system.slice/docker-<id>.scope
 *   kubepods, cgroupfs driver    /kubepods[/burstable|/besteffort]/pod<uid>/<id>
 *   kubepods, systemd driver     /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/<rt>-<id>.scope
 *                                with <rt> in docker, cri-containerd, crio
 *   containerd, systemd (v1)     /kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>
 *   nested (kind, dind)          /docker/<outer>/kubepods/besteffort/pod<uid>/<inner>  → the innermost container wins
 *   podman                       /machine.slice/libpod-<id>.scope
 * A path without a 64-hex container segment is a host process: no container.
 */
export type ContainerRuntime = 'docker' | 'containerd' | 'crio' | 'podman' | 'unknown';

export interface ContainerRef {
  /** 64 lowercase hex characters, as the runtime names the container. */
  containerId: string;
  /** Canonical pod UID (dashes, lowercase) when the container is in a Kubernetes pod. */
  podUid?: string;
  /** Which runtime the cgroup name points at; "unknown" for a bare ID (cgroupfs kubepods). */
  runtime: ContainerRuntime;
}

const CGROUP_MALFORMED = 'ERR_CGROUP_MALFORMED';
const CGROUP_AMBIGUOUS = 'ERR_CGROUP_AMBIGUOUS';
const CGROUP_UNREADABLE = 'ERR_CGROUP_UNREADABLE';

/** Upper bound on what we read: real files are a few KB; anything larger is not a cgroup file. */
const MAX_CGROUP_FILE_BYTES = 64 * 1024;

const ID = '[0-9a-f]{64}';
const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';

const RUNTIME_PREFIX: Record<string, ContainerRuntime> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  containerd: 'containerd',
  crio: 'crio',
  libpod: 'podman',
};

/** `<id>`, `<rt>-<id>.scope`, `<rt>-<id>`; conmon scopes (crio-conmon-<id>) are the monitor, not the container. */
const CONTAINER_SEGMENT = new RegExp(`^(?:(docker|cri-containerd|containerd|crio|libpod)-)?(${ID})(?:\\.scope)?$`);
/** containerd with the systemd driver on cgroup v1 writes `<slice>:<prefix>:<id>` as one segment. */
const SYSTEMD_TRIPLE_SEGMENT = new RegExp(`^(.*\\.slice):(docker|cri-containerd|crio):(${ID})$`);
/** `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_>.slice` (systemd, which turns dashes into underscores). */
const POD_SEGMENT = new RegExp(`(?:^|[-_.])pod(${UID})(?:\\.slice)?$`);

interface CgroupLine { hierarchy: number; controllers: string; path: string; lineNo: number }

/** Splits the file into lines; only the first two colons separate fields (paths may hold colons). */
export function parseCgroupLines(text: string, source = 'cgroup file'): CgroupLine[] {
  const out: CgroupLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const a = raw.indexOf(':');
    const b = a < 0 ? -1 : raw.indexOf(':', a + 1);
    if (a <= 0 || b < 0) throw malformed(source, i + 1, raw, 'expected "hierarchy-id:controllers:path"');
    const id = raw.slice(0, a);
    if (!/^\d+$/.test(id)) throw malformed(source, i + 1, raw, `hierarchy id "${id}" is not a number`);
    const path = raw.slice(b + 1);
    if (!path.startsWith('/')) throw malformed(source, i + 1, raw, 'path must start with "/"');
    out.push({ hierarchy: Number(id), controllers: raw.slice(a + 1, b), path, lineNo: i + 1 });
  }
  return out;
}

/** The container named by one cgroup path, or undefined for a host cgroup. */
export function containerFromCgroupPath(path: string): ContainerRef | undefined {
  let podUid: string | undefined;
  let found: ContainerRef | undefined;
  const segments = path.split('/');
  for (const [i, segment] of segments.entries()) {
    if (segment === '' || segment === '..' || segment === '.') continue;
    const triple = SYSTEMD_TRIPLE_SEGMENT.exec(segment);
    if (triple) {
      const pod = POD_SEGMENT.exec(triple[1]!);
      if (pod) podUid = canonicalPodUid(pod[1]!);
      found = { containerId: triple[3]!, runtime: RUNTIME_PREFIX[triple[2]!]!, ...(podUid ? { podUid } : {}) };
      continue;
    }
    const pod = POD_SEGMENT.exec(segment);
    if (pod) { podUid = canonicalPodUid(pod[1]!); continue; }
    const c = CONTAINER_SEGMENT.exec(segment);
    if (c) {
      // A bare ID directly under /docker/ is docker's cgroupfs layout; under a pod we cannot tell the runtime.
      const runtime: ContainerRuntime = c[1] ? RUNTIME_PREFIX[c[1]]! : (!podUid && segments[i - 1] === 'docker' ? 'docker' : 'unknown');
      // The innermost container wins (kind, docker-in-docker): each match replaces the outer one,
      // and the pod UID applies only when it sits above this container.
      found = { containerId: c[2]!, runtime, ...(podUid ? { podUid } : {}) };
    }
  }
  return found;
}

/**
 * Container identity from the whole file. On hybrid hosts (v1 controllers plus a `0::`
 * unified line) the runtime places containers in the v1 hierarchies and the unified
 * line may name something else (e.g. the kind node's own container), so v1 lines win
 * when any of them names a container. All lines that name a container must agree.
 */
export function containerFromCgroupFile(text: string, source = 'cgroup file'): ContainerRef | undefined {
  const lines = parseCgroupLines(text, source);
  const v1 = lines.filter((l) => l.hierarchy !== 0).map((l) => ({ l, c: containerFromCgroupPath(l.path) })).filter((x) => x.c);
  const v2 = lines.filter((l) => l.hierarchy === 0).map((l) => ({ l, c: containerFromCgroupPath(l.path) })).filter((x) => x.c);
  const chosen = v1.length > 0 ? v1 : v2;
  if (chosen.length === 0) return undefined;
  const first = chosen[0]!.c!;
  for (const { l, c } of chosen.slice(1)) {
    if (c!.containerId !== first.containerId || c!.podUid !== first.podUid) {
      throw new TesseraError('failed_precondition', CGROUP_AMBIGUOUS,
        `${source}: line ${l.lineNo} names container ${c!.containerId}${c!.podUid ? ` in pod ${c!.podUid}` : ''} but line ${chosen[0]!.l.lineNo} names ${first.containerId}${first.podUid ? ` in pod ${first.podUid}` : ''}`);
    }
  }
  return first;
}

/**
 * Reads `<procRoot>/<pid>/cgroup`. `procRoot` is injectable so tests (and agents
 * running with the host's /proc mounted elsewhere) can point it at another tree.
 */
export async function readContainerRef(procRoot: string, pid: number): Promise<ContainerRef | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new TesseraError('invalid_argument', 'ERR_CGROUP_PID', `cgroup: pid must be a positive integer, got ${pid}`);
  }
  const file = join(procRoot, String(pid), 'cgroup');
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // The process may have exited between accept() and now; either way we cannot attest it.
    throw new TesseraError(code === 'ENOENT' ? 'not_found' : 'internal', CGROUP_UNREADABLE,
      `cgroup: cannot read ${file}: ${code ?? (e as Error).message}`, { cause: e });
  }
  if (buf.length > MAX_CGROUP_FILE_BYTES) {
    throw new TesseraError('internal', CGROUP_MALFORMED, `cgroup: ${file} is ${buf.length} bytes, more than the ${MAX_CGROUP_FILE_BYTES} a cgroup file can be`);
  }
  return containerFromCgroupFile(buf.toString('utf8'), file);
}

function canonicalPodUid(raw: string): string {
  return raw.replace(/_/g, '-').toLowerCase();
}

function malformed(source: string, lineNo: number, line: string, why: string): TesseraError {
  const shown = line.length > 120 ? `${line.slice(0, 120)}...` : line;
  return new TesseraError('internal', CGROUP_MALFORMED, `${source}: line ${lineNo} is malformed (${why}): ${JSON.stringify(shown)}`);
}
