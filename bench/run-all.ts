/**
 * `npm run bench`: runs the performance benches one after another (never in parallel:
 * each measures against a limit taken in its own run, and two at once would share the
 * cores) and prints one table of their ratios (docs/performance.md).
 *
 * Contract with a bench: every line of the form
 *     ratio <label> <value>   (goal >= <n>)      or      (goal <= <n>)
 * is a ratio; the goal part is optional. Benches that print none are listed as such.
 *
 *   npm run bench                       the issue-19 set (missing scripts are skipped)
 *   npm run bench -- issuance jwt       only benches whose name contains one of the words
 *   npm run bench -- --all              every bench/*.ts
 *   npm run bench -- --output json      the table as JSON on stdout (bench output to stderr)
 *   npm run bench -- --help
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** The benches behind docs/performance.md; others can be run with --all or by name. */
const DEFAULT = ['issuance', 'workload-api', 'workload-api-latency', 'entry-latency', 'entry-to-svid', 'agent-memory', 'server-scale'];

export interface Ratio { bench: string; label: string; value: number; goal?: { op: '>=' | '<='; bound: number }; met?: boolean }

const RATIO_LINE = /^\s*ratio\s+(.+?)\s+(-?\d+(?:\.\d+)?)\s*(?:\(goal\s*(>=|<=)\s*(\d+(?:\.\d+)?)\))?\s*$/;

/** The ratio lines of a bench's output. */
export function parseRatios(bench: string, output: string): Ratio[] {
  const out: Ratio[] = [];
  for (const line of output.split('\n')) {
    const m = RATIO_LINE.exec(line);
    if (!m) continue;
    const r: Ratio = { bench, label: m[1]!, value: Number(m[2]) };
    if (m[3]) {
      r.goal = { op: m[3] as '>=' | '<=', bound: Number(m[4]) };
      r.met = r.goal.op === '>=' ? r.value >= r.goal.bound : r.value <= r.goal.bound;
    }
    out.push(r);
  }
  return out;
}

function run(file: string, toStderr: boolean): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => { output += b.toString(); (toStderr ? process.stderr : process.stdout).write(b); });
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(readHelp());
    return 0;
  }
  const json = argv.includes('--output') && argv[argv.indexOf('--output') + 1] === 'json';
  const words = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--output');
  const all = readdirSync(BENCH_DIR).filter((f) => f.endsWith('.ts') && f !== 'run-all.ts' && !f.startsWith('.')).map((f) => f.slice(0, -3));
  const names = argv.includes('--all') ? all : words.length > 0 ? all.filter((n) => words.some((w) => n.includes(w))) : DEFAULT;
  const ratios: Ratio[] = [];
  const notes: string[] = [];
  const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
  for (const name of names) {
    const file = join(BENCH_DIR, `${name}.ts`);
    if (!existsSync(file)) { notes.push(`${name}: no bench/${name}.ts (skipped)`); continue; }
    log(`\n=== ${name} (load average ${loadavg()[0]!.toFixed(1)})`);
    const { code, output } = await run(file, json);
    const found = parseRatios(name, output);
    if (code !== 0) notes.push(`${name}: exited with code ${code}`);
    else if (found.length === 0) notes.push(`${name}: printed no "ratio <label> <value>" lines`);
    ratios.push(...found);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ ratios, notes }, null, 2)}\n`);
  } else {
    console.log('\n' + ['bench'.padEnd(20), 'ratio'.padEnd(48), 'value'.padStart(7), '  goal'.padEnd(10), 'met'].join(' '));
    for (const r of ratios) {
      const goal = r.goal ? `${r.goal.op} ${r.goal.bound}` : '';
      console.log([r.bench.padEnd(20), r.label.padEnd(48), r.value.toFixed(2).padStart(7), `  ${goal}`.padEnd(10), r.met === undefined ? '' : r.met ? 'yes' : 'NO'].join(' '));
    }
    for (const n of notes) console.log(`  note: ${n}`);
  }
  return ratios.some((r) => r.met === false) ? 1 : 0;
}

/** --help is this file's header comment: one text to maintain. */
function readHelp(): string {
  const src = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(fileURLToPath(import.meta.url), 'utf8'))![1]!;
  return src.split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
