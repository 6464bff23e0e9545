import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DURATION_HELP, type EnvOverride } from '../common/config.ts';
import { serverConfigSchema, SERVER_ENV_OVERRIDES } from '../server/config.ts';
import { agentConfigSchema, AGENT_ENV_OVERRIDES } from '../node-agent/config.ts';

/**
 * docs/config.md, rendered from the zod schemas the server and the agent validate
 * their config files with (server/config.ts, node-agent/config.ts, and the attestor
 * and oauth sections they embed), so the page cannot drift from what is accepted.
 * `npm run gen:config-docs` (or `node --import tsx scripts/gen-config-docs.ts`) writes
 * the file; `--check` and test/ops/config-docs.test.ts fail when it differs.
 */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CONFIG_DOC = `${ROOT}docs/config.md`;

// zod 4 keeps each schema's definition in `_zod.def`; only what the builders in
// common/config.ts produce is read here.
interface Def {
  type: string;
  innerType?: Schema; in?: Schema; out?: Schema; element?: Schema; valueType?: Schema;
  shape?: Record<string, Schema>; options?: Schema[]; discriminator?: string;
  entries?: Record<string, string>; values?: unknown[]; checks?: { _zod: { def: Record<string, unknown> } }[];
  defaultValue?: unknown;
}
interface Schema { _zod: { def: Def } }

const def = (s: Schema): Def => s._zod.def;
const meta = (s: Schema): Record<string, unknown> => (z.globalRegistry.get(s as unknown as z.ZodType) ?? {}) as Record<string, unknown>;

/** One key: its peeled schema and what its wrappers said (description, default, optional). */
interface Key {
  path: string;
  core: Schema;
  description?: string;
  default?: unknown;
  optional: boolean;
  /** A duration or a hand-written field's description, from a wrapper's meta. */
  kind?: string;
}

function peel(path: string, s: Schema): Key {
  const k: Key = { path, core: s, optional: false };
  for (let cur: Schema | undefined = s; cur;) {
    const m = meta(cur);
    k.description ??= m.description as string | undefined;
    if (typeof m.type === 'string' && !k.kind) k.kind = m.type === 'duration' ? durationText(m) : m.type;
    const d = def(cur);
    if (d.type === 'optional') { k.optional = true; cur = d.innerType; continue; }
    if (d.type === 'default') { k.default ??= typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue; cur = d.innerType; continue; }
    if (d.type === 'prefault') { k.default ??= d.defaultValue; cur = d.innerType; continue; }
    if (d.type === 'pipe' && def(d.out!).type === 'transform') {
      const inner = def(d.in!);
      if (!k.kind && inner.type === 'union' && !inner.discriminator && inner.options!.map((o) => def(o).type).join() === 'number,string') k.kind = 'duration';
      cur = d.in;
      continue;
    }
    k.core = cur;
    break;
  }
  // A hand-written field (attestors, oauth) keeps its default inside its parse: ask it.
  if (k.default === undefined && !k.optional && def(k.core).type === 'unknown') {
    const r = (s as unknown as z.ZodType).safeParse(undefined);
    if (r.success && r.data !== undefined) k.default = ['string', 'number', 'boolean'].includes(typeof r.data) ? r.data : BUILT_IN;
  }
  return k;
}

/** A default the field computes (a parsed object), shown without its internals. */
const BUILT_IN = Symbol('built-in default');

function durationText(m: Record<string, unknown>): string {
  const bounds = [m.min !== undefined ? `≥ ${m.min}s` : '', m.max !== undefined ? `≤ ${m.max}s` : ''].filter(Boolean).join(', ');
  return `duration${bounds ? ` (${bounds})` : ''}`;
}

function typeText(k: Key): string {
  if (k.kind) return k.kind;
  const d = def(k.core);
  const checks = (d.checks ?? []).map((c) => c._zod.def);
  switch (d.type) {
    case 'string': {
      const format = meta(k.core).format as string | undefined;
      if (format) return `string: ${format}`;
      const re = checks.find((c) => c.format === 'regex')?.pattern;
      if (re) return `string matching \`${String(re)}\``;
      return checks.some((c) => c.check === 'min_length') ? 'non-empty string' : 'string';
    }
    case 'number': {
      const min = checks.find((c) => c.check === 'greater_than')?.value;
      const max = checks.find((c) => c.check === 'less_than')?.value;
      const int = checks.some((c) => c.check === 'number_format');
      return `${int ? 'integer' : 'number'}${min !== undefined || max !== undefined ? ` ${min ?? ''}…${max ?? ''}` : ''}`;
    }
    case 'boolean': return 'true or false';
    case 'enum': return `one of ${Object.values(d.entries!).map((v) => `\`${v}\``).join(', ')}`;
    case 'literal': return (d.values ?? []).map((v) => `\`${String(v)}\``).join(', ');
    case 'array': return `list of ${typeText(peel('', d.element!))}`;
    case 'record': return `map of ${typeText(peel('', d.valueType!))}`;
    case 'object': return 'map (below)';
    case 'union': {
      if (!d.discriminator) return 'see description';
      const values = d.options!.map((o) => def(peel('', def(o).shape![d.discriminator!]!).core).values?.[0]);
      return `map: \`${d.discriminator}\` (one of ${values.map((v) => `\`${String(v)}\``).join(', ')}) and that method's section (below)`;
    }
    default: return 'see description';
  }
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultText(k: Key): string {
  if (k.default === undefined) return k.optional ? '—' : '**required**';
  if (k.default === BUILT_IN) return 'built in';
  if (Array.isArray(k.default) && k.default.length === 0) return '`[]`';
  if (typeof k.default === 'object' && k.default !== null && Object.keys(k.default).length === 0) return def(k.core).type === 'object' ? 'its defaults' : '`{}`';
  if (k.kind?.startsWith('duration') && typeof k.default === 'number') return `\`${humanSeconds(k.default)}\``;
  return `\`${typeof k.default === 'string' ? k.default : JSON.stringify(k.default)}\``;
}

function humanSeconds(s: number): string {
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (s >= n && s % n === 0) return `${s / n}${unit}`;
  return s < 1 ? `${Math.round(s * 1000)}ms` : `${s}s`;
}

/** A map's table, then a subsection per nested map (and per option of a method-keyed map). */
function renderMap(path: string, title: string, shape: Record<string, Schema>, intro?: string): string[] {
  const keys = Object.entries(shape).map(([name, s]) => peel(path ? `${path}.${name}` : name, s));
  const out = [`### ${title}`, '', ...(intro ? [intro, ''] : [])];
  if (keys.length === 0) return [...out, 'No settings: `{}`.', ''];
  out.push('| key | type | default | description |', '|---|---|---|---|');
  const nested: string[][] = [];
  for (const k of keys) {
    out.push(`| \`${k.path}\` | ${cell(typeText(k))} | ${cell(defaultText(k))} | ${cell(k.description ?? '')} |`);
    const d = def(k.core);
    if (d.type === 'object') nested.push(renderMap(k.path, `\`${k.path}\``, d.shape!, k.description));
    if (d.type === 'array' && def(peel('', d.element!).core).type === 'object') {
      nested.push(renderMap(`${k.path}[]`, `\`${k.path}[]\` (each item)`, def(peel('', d.element!).core).shape!));
    }
    if (d.type === 'union' && d.discriminator) {
      for (const option of d.options!) {
        const shape = def(option).shape!;
        const value = Object.values(def(peel('', shape[d.discriminator]!).core).values ?? [])[0] as string;
        const section = shape[value];
        if (!section) continue;
        const s = def(peel('', section).core);
        nested.push(s.type === 'object' ? renderMap(`${k.path}.${value}`, `\`${k.path}.${value}\` (with \`${d.discriminator}: ${value}\`)`, s.shape!)
          : [`### \`${k.path}.${value}\``, '', typeText(peel('', section))]);
      }
    }
  }
  return [...out, '', ...nested.flatMap((n) => [...n, ''])];
}

function objectShape(s: Schema): Record<string, Schema> {
  let cur = peel('', s).core;
  while (def(cur).type !== 'object') cur = peel('', def(cur).innerType ?? def(cur).in!).core;
  return def(cur).shape!;
}

function envTable(overrides: readonly EnvOverride[]): string[] {
  return ['| variable | sets | description |', '|---|---|---|', ...overrides.map((o) => `| \`${o.name}\` | \`${o.path}\` | ${cell(o.description)} |`)];
}

const HEADER = `# Configuration reference

Generated from the config schemas by \`npm run gen:config-docs\` (scripts/gen-config-docs.ts); do
not edit by hand. A test fails when this page and the schemas differ.

Both config files are YAML, validated once at start with zod schemas. An unknown key or a
bad value stops the process before anything starts, and every problem is listed with its
full key path and what is allowed there, for example:

\`\`\`text
config: ca.ttl: must be ${DURATION_HELP}, got "abc"
config: datastore.kind: must be one of sqlite, postgres, got "mysql"
config: agent_api.lisen: unknown key (known: listen, dns_names, ip_addresses)
\`\`\`

Check a file without starting anything (exit 0 valid, 1 not; \`--output json\` for
\`{file, valid, issues: [{path, message}], env_overrides}\`):

\`\`\`sh
tessera-server config check /etc/tessera/server.yaml
tessera-agent config check /etc/tessera/agent.yaml --output json
\`\`\`

Durations take ${DURATION_HELP} (\`250ms\` too). A key with no value (\`key:\` in YAML) counts as
absent, except under \`node_attestors\` and \`workload_attestors\`, where it enables that method
with its defaults. Secrets can stay out of the file: each variable below, when set and not
empty, overrides its key (a command-line flag overrides both). \`config check\` applies them
as \`run\` does and names the ones it used, never their values. The PostgreSQL client also
reads the standard \`PGPASSWORD\` / \`PGPASSFILE\` when the connection string has no password.
`;

function part(title: string, prefix: string, overrides: readonly EnvOverride[], schema: unknown): string[] {
  return [
    `## ${title}`, '', '### Environment overrides', '', ...envTable(overrides), '',
    ...renderMap('', 'Keys', objectShape(schema as Schema)).map((l) => l.replace(/^### /, `### ${prefix}: `)),
  ];
}

export function renderConfigDocs(): string {
  return [
    HEADER,
    ...part('Server (`tessera-server run --config FILE`)', 'server', SERVER_ENV_OVERRIDES, serverConfigSchema),
    ...part('Agent (`tessera-agent run --config FILE`)', 'agent', AGENT_ENV_OVERRIDES, agentConfigSchema),
  ].join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = renderConfigDocs();
  if (process.argv.includes('--check')) {
    const same = readFileSync(CONFIG_DOC, 'utf8') === text;
    process.stderr.write(same ? 'docs/config.md is up to date\n' : 'docs/config.md differs from the config schemas: run npm run gen:config-docs\n');
    process.exitCode = same ? 0 : 1;
  } else {
    writeFileSync(CONFIG_DOC, text);
    process.stderr.write(`wrote ${CONFIG_DOC}\n`);
  }
}
