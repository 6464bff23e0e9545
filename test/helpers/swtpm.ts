import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { ALG } from '../../attestors/node/tpm/constants.ts';
import type { Esys } from '../../attestors/node/tpm/esys/esys.ts';
import { encodePcrSelection } from '../../attestors/node/tpm/pcr-selection.ts';
import { EK_RSA_TEMPLATE } from '../../attestors/node/tpm/templates.ts';
import { freePort } from './proc.ts';

/**
 * Software TPMs for tests. A "golden" swtpm state (EK + EK certificate from a private
 * test CA made by swtpm_localca) is provisioned once per test run and per identity, then
 * every test copies it and runs its own `swtpm socket` on free loopback ports, ended by
 * pid with its state removed. Nothing touches /etc or /var/lib: swtpm_setup and
 * swtpm_localca get private config files.
 *
 * "Once per run" spans ava's worker processes: they share a parent (the ava CLI), so the
 * golden states live in <tmp>/tessera-swtpm-<ava pid>/; the first process to take the
 * mkdir lock provisions, the others wait for the finished directory. Directories of
 * finished runs are removed by the next run.
 */

/** Test TPM identities. Each has its own EK and its own test manufacturer CA. */
export type TpmIdentityName = 'tpm-a' | 'tpm-b';

export interface GoldenTpm {
  name: TpmIdentityName;
  stateDir: string;
  /** Root CA certificate (PEM file) of this identity's test manufacturer. */
  rootCertPath: string;
  /** Intermediate CA certificate (PEM file) that signed the EK certificate. */
  intermediateCertPath: string;
}

export interface Swtpm {
  /** tctildr string for the agent: swtpm:host=127.0.0.1,port=N */
  tcti: string;
  port: number;
  pid: number;
  golden: GoldenTpm;
  stop(): Promise<void>;
}

const RUN_DIR = join(tmpdir(), `tessera-swtpm-${process.ppid}`);
const PROVISION_TIMEOUT_MS = 60_000;
const golden = new Map<TpmIdentityName, Promise<GoldenTpm>>();

export function goldenTpm(name: TpmIdentityName): Promise<GoldenTpm> {
  let p = golden.get(name);
  if (!p) {
    p = provisionOnce(name);
    golden.set(name, p);
  }
  return p;
}

function describe(name: TpmIdentityName, dir: string): GoldenTpm {
  return {
    name,
    stateDir: join(dir, 'state'),
    rootCertPath: join(dir, 'ca', 'swtpm-localca-rootca-cert.pem'),
    intermediateCertPath: join(dir, 'ca', 'issuercert.pem'),
  };
}

async function provisionOnce(name: TpmIdentityName): Promise<GoldenTpm> {
  removeStaleRuns();
  mkdirSync(RUN_DIR, { recursive: true });
  const done = join(RUN_DIR, name);
  if (existsSync(done)) return describe(name, done);
  let owner = false;
  try { mkdirSync(join(RUN_DIR, `${name}.lock`)); owner = true; } catch { /* another process provisions */ }
  if (owner) {
    const staging = join(RUN_DIR, `${name}.staging`);
    rmSync(staging, { recursive: true, force: true });
    provision(name, staging);
    renameSync(staging, done);
    return describe(name, done);
  }
  const deadline = Date.now() + PROVISION_TIMEOUT_MS;
  while (!existsSync(done)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for another test process to provision ${done}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return describe(name, done);
}

/** swtpm_setup with a private swtpm_localca: EK (RSA + ECC) with certificates, sha1+sha256 PCR banks. */
function provision(name: TpmIdentityName, dir: string): void {
  const state = join(dir, 'state'), ca = join(dir, 'ca');
  mkdirSync(state, { recursive: true });
  mkdirSync(ca, { recursive: true });
  writeFileSync(join(dir, 'swtpm-localca.conf'), [
    `statedir = ${ca}`, `signingkey = ${ca}/signkey.pem`, `issuercert = ${ca}/issuercert.pem`, `certserial = ${ca}/certserial`, '',
  ].join('\n'));
  writeFileSync(join(dir, 'swtpm-localca.options'), ['--platform-manufacturer Tessera', '--platform-version 2.1', `--platform-model ${name}`, ''].join('\n'));
  writeFileSync(join(dir, 'swtpm_setup.conf'), [
    'create_certs_tool = /usr/bin/swtpm_localca',
    `create_certs_tool_config = ${dir}/swtpm-localca.conf`,
    `create_certs_tool_options = ${dir}/swtpm-localca.options`,
    'active_pcr_banks = sha256', '',
  ].join('\n'));
  const r = spawnSync('swtpm_setup', [
    '--tpm2', '--tpmstate', state, '--config', join(dir, 'swtpm_setup.conf'),
    '--create-ek-cert', '--pcr-banks', 'sha1,sha256', '--overwrite', '--logfile', join(dir, 'swtpm_setup.log'),
  ], { encoding: 'utf8', timeout: PROVISION_TIMEOUT_MS, env: { ...process.env, XDG_CONFIG_HOME: dir } });
  if (r.status !== 0) throw new Error(`swtpm_setup for ${name} failed (${r.status ?? r.error?.message}): ${r.stderr}\n${r.stdout}`);
}

/** Removes golden dirs of ava runs whose process is gone. */
function removeStaleRuns(): void {
  for (const entry of readdirSync(tmpdir())) {
    const m = /^tessera-swtpm-(\d+)$/.exec(entry);
    if (!m || Number(m[1]) === process.ppid) continue;
    try { process.kill(Number(m[1]), 0); } catch {
      rmSync(join(tmpdir(), entry), { recursive: true, force: true });
    }
  }
}

/** Copies the golden state of `name` and starts swtpm on free loopback ports; stopped when the test ends. */
export async function startSwtpm(t: ExecutionContext, name: TpmIdentityName = 'tpm-a'): Promise<Swtpm> {
  const g = await goldenTpm(name);
  const dir = mkdtempSync(join(tmpdir(), 'swtpm-'));
  cpSync(g.stateDir, dir, { recursive: true });
  let lastErr: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const port = await freePort();
    try {
      const child = await launch(dir, port);
      const pid = child.pid!;
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      };
      t.teardown(stop);
      return { tcti: `swtpm:host=127.0.0.1,port=${port}`, port, pid, golden: g, stop };
    } catch (e) {
      lastErr = e; // port taken meanwhile (ours or the control port+1): try another
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`could not start swtpm: ${(lastErr as Error)?.message}`);
}

/** Starts swtpm (command port `port`, control port `port+1`, which tcti-swtpm expects) and waits until it accepts. */
async function launch(stateDir: string, port: number): Promise<ChildProcess> {
  const child = spawn('swtpm', [
    'socket', '--tpm2', '--tpmstate', `dir=${stateDir}`,
    '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`,
    '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
    '--flags', 'not-need-init,startup-clear',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const deadline = Date.now() + 60_000; // a stuck swtpm, not a slow one (a busy machine)
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`swtpm exited: ${err.trim()}`);
    // Probe the control port: the command port serves one client at a time.
    if (await canConnect(port + 1)) return child;
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`swtpm did not listen on ${port + 1}: ${err.trim()}`); }
    await new Promise((r) => setTimeout(r, 5));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Runs `f` with an in-process ESAPI connection to `tpm` (no agent may be connected:
 * swtpm serves one client at a time), e.g. to extend PCRs before the agent starts.
 */
export async function withEsys<T>(tpm: Swtpm, f: (esys: Esys) => T): Promise<T> {
  process.env.TSS2_LOG ??= 'all+none';
  const { Esys } = await import('../../attestors/node/tpm/esys/esys.ts');
  const esys = Esys.open(tpm.tcti);
  try { return f(esys); } finally { esys.close(); }
}

/** Extends sha256 PCR `index` with SHA-256(`event`), as a measured boot would. Returns the new PCR value. */
export async function extendPcr(tpm: Swtpm, index: number, event: string): Promise<string> {
  const digest = createHash('sha256').update(event).digest();
  return withEsys(tpm, (esys) => {
    esys.pcrExtend(index, ALG.SHA256, digest);
    const { digests } = esys.pcrRead(encodePcrSelection([{ hashAlg: ALG.SHA256, pcrs: [index] }]));
    return digests[0]!.toString('hex');
  });
}

/** Creates a key under the (recreated) EK from `template` in the real TPM; returns its TPM2B_PUBLIC. */
export async function createKeyUnderEk(tpm: Swtpm, template: Uint8Array): Promise<Buffer> {
  const { TR } = await import('../../attestors/node/tpm/esys/esys.ts');
  return withEsys(tpm, (esys) => {
    const ek = esys.createPrimary(TR.RH_ENDORSEMENT, EK_RSA_TEMPLATE);
    try {
      const key = esys.createUnderEk(ek.handle, template);
      esys.flush(key.handle);
      return key.publicArea;
    } finally {
      esys.flush(ek.handle);
    }
  });
}
