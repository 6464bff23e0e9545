import { parseArgs } from 'node:util';
import { formatIssue, parseDuration, type ConfigCheck } from './config.ts';

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
  /** False for verbs with nothing to print (daemons): no --output flag then. */
  output?: false;
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
  // `help <verb...>` is `<verb...> --help`.
  if (words[0] === 'help' && words.length > 1) return runCli(program, commands, [...words.slice(1), '--help'], io);
  if (!cmd) {
    const wantsHelp = argv.length === 0 || argv.includes('--help') || argv.includes('-h') || (words[0] === 'help' && words.length === 1);
    const prefix = words[0] === 'help' ? '' : words.join(' ');
    const group = commands.filter((c) => prefix && c.name.startsWith(prefix + ' '));
    if (group.length > 0) {
      if (wantsHelp) { io.out(groupHelp(program, prefix, group)); return 0; }
      io.err(`${program}: "${prefix}" needs a verb: ${group.map((c) => c.name.slice(prefix.length + 1)).join(', ')}. Run "${program} ${prefix} --help".`);
      return 2;
    }
    // `help --markdown`: the reference of every verb, as docs/cli.md holds it (npm run gen:cli-docs).
    if (!prefix && wantsHelp && argv.includes('--markdown')) { io.out(referenceMarkdown(program, commands)); return 0; }
    if (!prefix && wantsHelp) { io.out(programHelp(program, commands)); return 0; }
    // An unknown verb is an error even with --help: exit 0 would let a typo in a script pass.
    io.err(prefix
      ? `${program}: unknown verb "${prefix}". Run "${program} --help" for the list.`
      : `${program}: expected a verb, got "${argv[0]}". Run "${program} --help".`);
    return 2;
  }
  const rest = argv.slice(cmd.name.split(' ').length);
  const specs = { ...commonOptions(cmd), ...(cmd.options ?? {}) };
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
    io.err(`${program} ${cmd.name}: ${argsMessage(e as Error & { code?: string })}. Run "${program} ${cmd.name} --help".`);
    return 2;
  }
  if (parsed.values.help) { io.out(commandHelp(program, cmd)); return 0; }
  if (!cmd.positionals && parsed.positionals.length > 0) {
    io.err(`${program} ${cmd.name}: unexpected argument "${parsed.positionals[0]}" (this verb takes only flags). Run "${program} ${cmd.name} --help".`);
    return 2;
  }
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

/** parseArgs' messages, reworded to name the flag and say what to do. */
function argsMessage(e: Error & { code?: string }): string {
  const flag = /'(-{1,2}[^' <=]+)/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(e.message)) return `${flag} is a switch and takes no value`;
      if (/ambiguous/.test(e.message)) return `${flag} needs a value, got another flag (write ${flag}=VALUE if the value starts with "-")`;
      return `${flag} needs a value`;
    default:
      return e.message;
  }
}

function commonOptions(cmd: Command): Record<string, OptionSpec> {
  return cmd.output === false ? { help: COMMON.help! } : COMMON;
}

function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  return v;
}

export function programHelp(program: string, commands: Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [`Usage: ${program} <command> [options]`, '', 'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '', `Run "${program} <command> --help" for a command's options.`].join('\n');
}

export function groupHelp(program: string, prefix: string, cmds: Command[]): string {
  const w = Math.max(...cmds.map((c) => c.name.length));
  return [`Usage: ${program} ${prefix} <verb> [options]`, '', ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`)].join('\n');
}

export function commandHelp(program: string, cmd: Command): string {
  const specs = { ...(cmd.options ?? {}), ...commonOptions(cmd) };
  const rows = Object.entries(specs).map(([k, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : ''}--${k}${s.type === 'string' ? ` ${s.value ?? 'VALUE'}` : ''}`;
    const extra = [s.multiple ? '(repeatable)' : '', s.default !== undefined ? `(default: ${s.default})` : ''].filter(Boolean).join(' ');
    return [flag, `${s.description}${extra ? ' ' + extra : ''}`] as const;
  });
  const w = Math.max(...rows.map((r) => r[0].length));
  return [`Usage: ${program} ${cmd.name}${cmd.positionals ? ' ' + cmd.positionals : ''} [options]`, '', cmd.summary, '',
    'Options:', ...rows.map(([f, d]) => `  ${f.padEnd(w)}  ${d}`), ...(cmd.details ? ['', cmd.details] : [])].join('\n');
}

/** Every verb's help, as Markdown: the CLI reference (docs/cli.md) cannot drift from --help. */
export function referenceMarkdown(program: string, commands: Command[]): string {
  const block = (text: string) => ['```text', text, '```'];
  const parts = [`## ${program}`, '', ...block(programHelp(program, commands))];
  for (const c of commands) parts.push('', `### ${program} ${c.name}`, '', ...block(commandHelp(program, c)));
  return parts.join('\n') + '\n';
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
/**
 * A duration flag in seconds: "90s", "5m", "1h", "1d" or plain seconds, as in config
 * files (common/config.ts). Undefined when not given.
 */
export function optDuration(o: OptionValues, k: string, opts: { min?: number; max?: number } = {}): number | undefined {
  const v = optString(o, k);
  if (v === undefined) return undefined;
  const s = parseDuration(v);
  if (s === undefined) throw new UsageError(`--${k} must be a duration like "90s", "5m", "1h", "1d" or seconds, got "${v}"`);
  if (opts.min !== undefined && s < opts.min) throw new UsageError(`--${k} must be at least ${opts.min}s, got ${v}`);
  if (opts.max !== undefined && s > opts.max) throw new UsageError(`--${k} must be at most ${opts.max}s, got ${v}`);
  return s;
}

export function requireString(o: OptionValues, k: string): string {
  const v = optString(o, k);
  if (v === undefined || v === '') throw new UsageError(`--${k} is required`);
  return v;
}

/**
 * `<program> completion`: a bash completion script generated from the command
 * definitions (verbs, then each verb's flags). Install:
 *   <program> completion > /etc/bash_completion.d/<program>
 */
export function completionCommand(program: string, commands: () => Command[]): Command {
  return {
    name: 'completion', summary: 'print a bash completion script for this CLI',
    details: `Install: ${program} completion > /etc/bash_completion.d/${program}  (or: source <(${program} completion))`,
    output: false,
    async run(ctx) { ctx.io.out(bashCompletion(program, commands())); },
  };
}

function bashCompletion(program: string, commands: Command[]): string {
  const next = new Map<string, Set<string>>();
  const flags = new Map<string, string[]>();
  for (const c of commands) {
    const words = c.name.split(' ');
    words.forEach((w, i) => {
      const key = words.slice(0, i).join(' ');
      if (!next.has(key)) next.set(key, new Set());
      next.get(key)!.add(w);
    });
    flags.set(c.name, Object.keys({ ...(c.options ?? {}), ...commonOptions(c) }).map((k) => `--${k}`));
  }
  const fn = `_${program.replace(/[^A-Za-z0-9]/g, '_')}`;
  const cases = [
    ...[...next].map(([key, ws]) => `    "${key}") opts="${[...ws].join(' ')}${flags.has(key) ? ' ' + flags.get(key)!.join(' ') : ''}" ;;`),
    ...[...flags].filter(([key]) => !next.has(key)).map(([key, fs]) => `    "${key}") opts="${fs.join(' ')}" ;;`),
  ];
  return [
    `# bash completion for ${program} (generated by \`${program} completion\`)`,
    `${fn}() {`,
    '  local cur="${COMP_WORDS[COMP_CWORD]}" words=() w opts=""',
    '  for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do [[ $w == -* ]] && break; words+=("$w"); done',
    '  case "${words[*]}" in',
    ...cases,
    '  esac',
    '  COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
    '}',
    `complete -F ${fn} ${program}`,
  ].join('\n');
}

/**
 * `<program> config check FILE`: validates a config file as `run` would (the
 * environment overrides included) without starting anything; every problem is listed
 * with its key path. Exit 0 valid, 1 not. `summary` names what a valid file sets up.
 */
export function configCheckCommand(program: string, check: (file: string, env: NodeJS.ProcessEnv) => ConfigCheck<unknown>,
  summary: (value: never) => Record<string, unknown>): Command {
  return {
    name: 'config check', summary: 'validate a config file (exit 0 valid, 1 not), listing every problem with its key path',
    positionals: 'FILE',
    details: `Environment overrides (docs/config.md) are applied as \`${program} run\` applies them; their values are never printed.`,
    async run(ctx) {
      if (ctx.positionals.length !== 1) throw new UsageError('expects exactly one FILE');
      const r = check(ctx.positionals[0]!, ctx.io.env);
      const out = {
        file: r.file, valid: r.valid, issues: r.issues, env_overrides: r.env,
        ...(r.valid && r.value !== undefined ? { summary: summary(r.value as never) } : {}),
      };
      ctx.print(out, () => [
        `${r.file}: ${r.valid ? 'valid' : `${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}`}`,
        ...r.issues.map(formatIssue),
        ...(r.env.length ? [`environment overrides: ${r.env.join(', ')}`] : []),
        ...Object.entries(out.summary ?? {}).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`),
      ].join('\n'));
      return r.valid ? 0 : 1;
    },
  };
}
