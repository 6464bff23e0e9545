/**
 * Runs the ava suite for scripts/test.sh and makes sure the run ends, saying why, whatever
 * a test does. ava's own timeout ends a stuck worker with SIGTERM; a worker that survives
 * it (a library's signal handler, a blocked event loop) or a hang outside any test would
 * otherwise hold the run until CI's limit, with no word of what was stuck. So:
 *  - ava runs in its own process group; its output goes to our stdout and to the log;
 *  - when ava has printed nothing for TESSERA_TEST_SILENCE_MIN minutes (default 12, more
 *    than ava's own 10-minute timeout), or the run passes TESSERA_TEST_DEADLINE_MIN
 *    (default 75), it prints the processes still running under ava, interrupts ava (which
 *    lists its pending tests), and a minute later kills what is left;
 *  - whatever outlives the suite in its process group is named and killed, so no leaked
 *    process holds the caller's output open after the run.
 * Usage: node --import tsx scripts/ava-watchdog.ts <log file> [ava arguments]; exits with
 * ava's status.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';

const logPath = process.argv[2];
if (!logPath) { process.stderr.write('usage: ava-watchdog.ts <log file>\n'); process.exit(2); }
const minutes = (v: string | undefined, dflt: number) => (Number(v) > 0 ? Number(v) : dflt) * 60_000;
const silenceMs = minutes(process.env.TESSERA_TEST_SILENCE_MIN, 12);
const deadlineMs = minutes(process.env.TESSERA_TEST_DEADLINE_MIN, 75);

/** `key` (pid and start time) names one process even after its pid is reused. */
interface ProcInfo { pid: number; ppid: number; pgid: number; key: string; zombie: boolean; args: string }

function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Fields after the parenthesised command: state (3), ppid (4), pgrp (5) … starttime (22), proc(5).
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(name), ppid: Number(f[1]), pgid: Number(f[2]), key: `${name}@${f[19]}`, zombie: f[0] === 'Z', args });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** ava's descendants, the members of its process group (orphans keep the group) and any process seen under it before. */
function suiteProcesses(root: number): ProcInfo[] {
  const all = processes();
  const mine = new Set<number>([root, ...all.filter((p) => seen.has(p.key)).map((p) => p.pid)]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) if (!mine.has(p.pid) && (mine.has(p.ppid) || p.pgid === root)) { mine.add(p.pid); grew = true; }
  }
  return all.filter((p) => mine.has(p.pid) && p.pid !== process.pid && !p.zombie);
}
/** Every process seen under ava: one orphaned in another process group (a detached browser) is still found at the end. */
const seen = new Set<string>();

const log = createWriteStream(logPath);
const say = (line: string) => { process.stdout.write(`${line}\n`); log.write(`${line}\n`); };
const started = Date.now();
let lastOutput = started;

const ava = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', ...process.argv.slice(3)], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
for (const stream of [ava.stdout, ava.stderr]) {
  stream.on('data', (chunk: Buffer) => { lastOutput = Date.now(); process.stdout.write(chunk); log.write(chunk); });
}
const avaExited = new Promise<number>((resolve) => ava.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));

let tripped = false;
const watch = setInterval(() => {
  for (const p of suiteProcesses(ava.pid!)) seen.add(p.key);
  const now = Date.now();
  const reason = now - lastOutput >= silenceMs ? `ava printed nothing for ${Math.round((now - lastOutput) / 60_000)} min`
    : now - started >= deadlineMs ? `the run passed its ${deadlineMs / 60_000}-minute deadline` : undefined;
  if (!reason || tripped) return;
  tripped = true;
  say(`\ntest: watchdog: ${reason}; the processes still running under ava:`);
  for (const p of suiteProcesses(ava.pid!)) say(`  ${p.pid} (parent ${p.ppid}) ${p.args.slice(0, 300)}`);
  say('test: watchdog: interrupting ava (it lists the pending tests); what is left in a minute is killed');
  try { process.kill(ava.pid!, 'SIGINT'); } catch { /* gone */ }
  setTimeout(() => { for (const p of suiteProcesses(ava.pid!)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } } }, 60_000).unref();
}, 5_000);

let code = await avaExited;
clearInterval(watch);
// Give the pipes a moment to deliver ava's last lines, but never wait on an orphan holding them.
await new Promise<void>((resolve) => {
  let open = 2;
  const done = () => { if (--open === 0) resolve(); };
  ava.stdout.once('close', done); ava.stderr.once('close', done);
  setTimeout(() => { ava.stdout.destroy(); ava.stderr.destroy(); resolve(); }, 5_000);
});
const leftovers = suiteProcesses(ava.pid!).filter((p) => p.pid !== ava.pid);
if (leftovers.length > 0) {
  say(`test: ${leftovers.length} process(es) outlived the suite; killing them:`);
  for (const p of leftovers) { say(`  ${p.pid} ${p.args.slice(0, 300)}`); try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
}
if (tripped && code === 0) code = 1;
await new Promise<void>((resolve) => log.end(resolve));
process.exit(code);
