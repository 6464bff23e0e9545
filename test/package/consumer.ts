import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/proc.ts';

/**
 * A fresh consumer project that installs the packed SDK tarball the way a user does,
 * but offline: its package-lock.json takes the SDK's dependency closure from this
 * repo's lockfile (same versions, resolved URLs and integrity), so `npm ci --offline`
 * fills node_modules from the npm cache this repo's own install left behind.
 */

interface LockEntry {
  version?: string; resolved?: string; integrity?: string; license?: string;
  dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  engines?: Record<string, string>; bin?: Record<string, string>; hasInstallScript?: boolean;
  dev?: boolean; peer?: boolean; optional?: boolean; devOptional?: boolean; link?: boolean;
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion (no shell), with the given cwd and extra env. */
export function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** Node's resolution over lockfile keys: the nearest node_modules/<name> from `from` upwards. */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const key = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[key]) return key;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

/** The lockfile entries reachable from `deps` (hoisting kept as in the repo's tree). */
export function lockClosure(deps: Record<string, string>): Record<string, LockEntry> {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const out: Record<string, LockEntry> = {};
  const visit = (from: string, name: string, optional: boolean) => {
    const key = resolveIn(lock.packages, from, name);
    if (!key) {
      if (optional) return;
      throw new Error(`package-lock.json has no ${name} reachable from ${from || 'the root'}`);
    }
    if (out[key]) return;
    const { dev: _d, peer: _p, devOptional: _o, ...entry } = lock.packages[key]!;
    if (entry.link) throw new Error(`${key} is a link in package-lock.json`);
    out[key] = entry;
    for (const d of Object.keys(entry.dependencies ?? {})) visit(key, d, false);
    for (const d of Object.keys(entry.optionalDependencies ?? {})) visit(key, d, true);
    for (const d of Object.keys(entry.peerDependencies ?? {})) visit(key, d, entry.peerDependenciesMeta?.[d]?.optional ?? false);
  };
  for (const name of Object.keys(deps)) visit('', name, false);
  return out;
}

/** Writes package.json + package-lock.json for a project depending on the tarball only. */
export function writeConsumerProject(dir: string, tarballName: string): void {
  const tgz = readFileSync(join(dir, tarballName));
  const sdk = JSON.parse(readFileSync(join(ROOT, 'packages/sdk/package.json'), 'utf8')) as
    { name: string; version: string; license: string; dependencies: Record<string, string>; engines: Record<string, string> };
  const spec = `file:${tarballName}`;
  const pkg = { name: 'sdk-consumer', version: '1.0.0', private: true, type: 'module', dependencies: { [sdk.name]: spec } };
  const lock = {
    name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true,
    packages: {
      '': { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies },
      [`node_modules/${sdk.name}`]: {
        version: sdk.version, resolved: spec,
        integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`,
        license: sdk.license, dependencies: sdk.dependencies, engines: sdk.engines,
      },
      ...lockClosure(sdk.dependencies),
    },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
}
