import { parseArgs } from 'node:util';

/**
 * A small verb-based CLI framework shared by tessera-server and tessera-agent.
 * Every verb gets `--help` and `--output json|table` for free; errors print one
 * clear line on stderr and exit non-zero (2 for usage errors, 1 otherwise).
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  description: string;
  default?: string | boolean;
  /** Shown in help as the value's name, e.g. "PATH". */
  value?: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export interface CommandContext {
  options: OptionValues;
  positionals: string[];
  output: 'json' | 'table';
  io: CliIO;
  /** Prints `value` as JSON (with --output json) or via `table` for humans. */
  print(value: unknown, table?: () => string): void;
}

export interface Command {
  /** Verb path, e.g. "entry create". */
  name: string;
  summary: string;
  /** Extra usage text after the option list. */
  details?: string;
  positionals?: string;
  options?: Record<string, OptionSpec>;
  run(ctx: CommandContext): Promise<number | void>;
}

export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = 'UsageError'; }
}

const COMMON: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show help for this command' },
  output: { type: 'string', value: 'FORMAT', description: 'output format: table (default) or json' },
};

export const defaultIO: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  env: process.env,
};

/**
 * A reader that goes away (`tessera-server entry list | head`) closes the pipe under us,
 * and the next write fails with EPIPE, which Node raises as an unhandled 'error' event
 * (a stack trace) since it ignores SIGPIPE. Output has nowhere to go any more, so end
 * as a Unix tool killed by SIGPIPE would: quietly, status 141 (128 + 13). Other stream
 * errors keep their default behaviour.
 */
function onClosedPipe(e: NodeJS.ErrnoException): void {
  if (e.code === 'EPIPE') process.exit(141);
  throw e;
}

function exitQuietlyOnClosedPipe(): void {
  for (const s of [process.stdout, process.stderr]) if (!s.listeners('error').includes(onClosedPipe)) s.on('error', onClosedPipe);
}

export async function runCli(program: string, commands: Command[], argv: string[], io: CliIO = defaultIO): Promise<number> {
  if (io === defaultIO) exitQuietlyOnClosedPipe();
  const words: string[] = [];
  for (const a of argv) { if (a.startsWith('-')) break; words.push(a); }
  let cmd: Command | undefined;
  for (let n = words.length; n > 0 && !cmd; n--) cmd = commands.find((c) => c.name === words.slice(0, n).join(' '));
  if (!cmd) {
    const wantsHelp = argv.length === 0 || argv.includes('--help') || argv.includes('-h') || words[0] === 'help';
    const prefix = words.join(' ');
    const group = commands.filter((c) => prefix && c.name.startsWith(prefix + ' '));
    if (group.length > 0) { io.out(groupHelp(program, prefix, group)); return wantsHelp ? 0 : 2; }
    if (wantsHelp) { io.out(programHelp(program, commands)); return 0; }
    io.err(`${program}: unknown command "${prefix}". Run "${program} --help".`);
    return 2;
  }
  const rest = argv.slice(cmd.name.split(' ').length);
  const specs = { ...COMMON, ...(cmd.options ?? {}) };
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest, allowPositionals: true, strict: true,
      // Node 20's parseArgs rejects keys present with an undefined value: only set what is given.
      options: Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, {
        type: s.type, ...(s.multiple !== undefined ? { multiple: s.multiple } : {}), ...(s.short !== undefined ? { short: s.short } : {}),
      }])),
    }) as { values: OptionValues; positionals: string[] };
  } catch (e) {
    io.err(`${program} ${cmd.name}: ${(e as Error).message}. Run "${program} ${cmd.name} --help".`);
    return 2;
  }
  if (parsed.values.help) { io.out(commandHelp(program, cmd)); return 0; }
  for (const [k, s] of Object.entries(specs)) if (parsed.values[k] === undefined && s.default !== undefined) parsed.values[k] = s.default;
  const output = parsed.values.output ?? 'table';
  if (output !== 'json' && output !== 'table') { io.err(`${program} ${cmd.name}: --output must be json or table`); return 2; }
  const ctx: CommandContext = {
    options: parsed.values, positionals: parsed.positionals, output, io,
    print(value, table) {
      if (output === 'json' || !table) io.out(JSON.stringify(value, jsonReplacer, 2));
      else io.out(table());
    },
  };
  try {
    const code = await cmd.run(ctx);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    const err = e as Error & { details?: string };
    const msg = err.details ?? err.message;
    if (output === 'json') io.err(JSON.stringify({ error: msg, code: (err as { code?: unknown }).code }));
    else io.err(`${program} ${cmd.name}: ${msg}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function programHelp(program: string, commands: Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [`Usage: ${program} <command> [options]`, '', 'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '', `Run "${program} <command> --help" for a command's options.`].join('\n');
}

function groupHelp(program: string, prefix: string, cmds: Command[]): string {
  const w = Math.max(...cmds.map((c) => c.name.length));
  return [`Usage: ${program} ${prefix} <verb> [options]`, '', ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`)].join('\n');
}

function commandHelp(program: string, cmd: Command): string {
  const specs = { ...(cmd.options ?? {}), ...COMMON };
  const rows = Object.entries(specs).map(([k, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : ''}--${k}${s.type === 'string' ? ` ${s.value ?? 'VALUE'}` : ''}`;
    const extra = [s.multiple ? '(repeatable)' : '', s.default !== undefined ? `(default: ${s.default})` : ''].filter(Boolean).join(' ');
    return [flag, `${s.description}${extra ? ' ' + extra : ''}`] as const;
  });
  const w = Math.max(...rows.map((r) => r[0].length));
  return [`Usage: ${program} ${cmd.name}${cmd.positionals ? ' ' + cmd.positionals : ''} [options]`, '', cmd.summary, '',
    'Options:', ...rows.map(([f, d]) => `  ${f.padEnd(w)}  ${d}`), ...(cmd.details ? ['', cmd.details] : [])].join('\n');
}

/** Renders rows as an aligned text table. */
export function formatTable(columns: string[], rows: (string | number | boolean | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

export function optString(o: OptionValues, k: string): string | undefined {
  const v = o[k]; return typeof v === 'string' ? v : undefined;
}
export function optStrings(o: OptionValues, k: string): string[] {
  const v = o[k]; return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
export function requireString(o: OptionValues, k: string): string {
  const v = optString(o, k);
  if (v === undefined || v === '') throw new UsageError(`--${k} is required`);
  return v;
}
