import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

/**
 * Config files are validated by zod schemas, once, at start (and by `config check`):
 * an unknown key or a bad value stops the process with every problem listed, each
 * naming the full key path and what is allowed there, e.g.
 *   config: ca.ttl: must be a duration like "90s", "5m", "1h", "1d" or seconds, got "abc"
 *   config: datastore.kind: must be one of sqlite, postgres, got "mysql"
 *
 * `c` builds zod schemas with these messages (server/config.ts, node-agent/config.ts,
 * and scripts/gen-config-docs.ts walks the same schemas into docs/config.md). `t` is
 * the older Field API the attestors and the oauth section are written in: each `t`
 * field is a zod schema underneath, and a hand-written Field is embedded through
 * `fromField`, so one schema covers the whole file. A YAML `key:` with no value (null)
 * counts as absent.
 */

/** One problem in a config document: the full key path and what is wrong there. */
export interface ConfigIssue { path: string; message: string }

export class ConfigValidationError extends ConfigError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return i.path ? `config: ${i.path}: ${i.message}` : `config: ${i.message}`;
}

export const DURATION_HELP = 'a duration like "90s", "5m", "1h", "1d" or seconds';

const show = (v: unknown): string => (v === undefined ? 'nothing' : typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

type RawIssue = z.core.$ZodRawIssue & { inst?: { _zod: { def: { shape?: Record<string, unknown> } } } };

/** The message for every issue a schema did not word itself (passed to each parse). */
function issueMessage(iss: RawIssue): string | undefined {
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      switch (iss.expected) {
        case 'object': case 'record': case 'map': return 'must be a map';
        case 'array': return 'must be a list';
        case 'string': return `must be a string, got ${typeof input}`;
        case 'number': return `must be a number, got ${show(input)}`;
        case 'int': return `must be an integer, got ${show(input)}`;
        case 'boolean': return `must be true or false, got ${show(input)}`;
        default: return `must be ${iss.expected}, got ${show(input)}`;
      }
    case 'too_small':
      if (iss.origin === 'string') return iss.minimum === 1 ? 'must not be empty' : `must be at least ${iss.minimum} characters`;
      if (iss.origin === 'array') return `must list at least ${iss.minimum}`;
      return `must be >= ${iss.minimum}, got ${show(input)}`;
    case 'too_big':
      if (iss.origin === 'array') return `must list at most ${iss.maximum}`;
      return `must be <= ${iss.maximum}, got ${show(input)}`;
    case 'invalid_value':
      return `must be one of ${iss.values.map(String).join(', ')}, got ${show(input)}`;
    case 'invalid_format':
      return `${show(input)} does not match ${'pattern' in iss ? iss.pattern : iss.format}`;
    case 'unrecognized_keys':
      return `unknown key (known: ${Object.keys(iss.inst?._zod.def.shape ?? {}).join(', ')})`;
    default:
      return undefined;
  }
}

function joinPath(prefix: string, segs: readonly PropertyKey[]): string {
  let p = prefix;
  for (const s of segs) p = typeof s === 'number' ? `${p}[${s}]` : p ? `${p}.${String(s)}` : String(s);
  return p;
}

function toIssues(e: z.ZodError, prefix: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const i of e.issues) {
    const at = joinPath(prefix, i.path);
    if (i.code === 'unrecognized_keys') for (const k of i.keys) out.push({ path: joinPath(at, [k]), message: i.message });
    else out.push({ path: at, message: i.message });
  }
  return out;
}

/** YAML nulls are "not set": dropped from maps, undefined in lists (so "is required" applies). */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === null ? undefined : dropNulls(x)));
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = dropNulls(x);
  return out;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] };

/** Every issue of `raw` against `schema`, paths prefixed with `prefix` (the section's own path). */
export function validate<T>(schema: z.ZodType<T>, raw: unknown, prefix = ''): Validated<T> {
  const r = schema.safeParse(dropNulls(raw), { error: issueMessage });
  return r.success ? { ok: true, value: r.data } : { ok: false, issues: toIssues(r.error, prefix) };
}

export function parseWith<T>(schema: z.ZodType<T>, raw: unknown, prefix = ''): T {
  const r = validate(schema, raw, prefix);
  if (!r.ok) throw new ConfigValidationError(r.issues);
  return r.value;
}

// ---- schema builders ----

type Def<T> = { default?: T };

function withDefault<T>(s: z.ZodType<T>, def: T | undefined): z.ZodType<T> {
  if (def === undefined) return s;
  // Lists and maps are copied per parse: a caller may mutate its config.
  const value = typeof def === 'object' ? () => structuredClone(def) : def;
  return (s as z.ZodType<T> & { default(v: unknown): z.ZodType<T> }).default(value);
}

export interface StringOptions extends Def<string> {
  pattern?: RegExp;
  /** Human form of `pattern` for messages and docs, e.g. 'host:port like "127.0.0.1:8081"'. */
  format?: string;
  nonEmpty?: boolean;
}

export interface NumberOptions extends Def<number> { min?: number; max?: number; integer?: boolean }

/** What unknown keys of an object are called in messages: default "unknown key (known: …)". */
export type UnknownKeyMessage = (known: string[]) => string;

function bareString(o: StringOptions): z.ZodType<string> {
  let s = z.string();
  if (o.nonEmpty) s = s.min(1, { abort: true });
  if (o.pattern) {
    const { pattern, format } = o;
    s = s.regex(pattern, { error: (i) => (format ? `must be ${format}, got ${show(i.input)}` : `${show(i.input)} does not match ${pattern}`) });
  }
  return o.format ? s.meta({ format: o.format }) : s;
}

function bareNumber(o: NumberOptions): z.ZodType<number> {
  let s = z.number();
  if (o.integer) s = s.int();
  if (o.min !== undefined) s = s.min(o.min);
  if (o.max !== undefined) s = s.max(o.max);
  return s;
}

function bareDuration(o: { min?: number; max?: number }): z.ZodType<number> {
  const bad = (v: unknown) => `must be ${DURATION_HELP}, got ${show(v)}`;
  return z.union([z.number(), z.string()], { error: (i) => (i.input === undefined ? 'is required' : bad(i.input)) })
    .transform((v, ctx) => {
      const s = parseDuration(v);
      const fail = (message: string) => { ctx.issues.push({ code: 'custom', input: v, message }); return z.NEVER; };
      if (s === undefined) return fail(bad(v));
      if (o.min !== undefined && s < o.min) return fail(`must be at least ${o.min}s, got ${s}s`);
      if (o.max !== undefined && s > o.max) return fail(`must be at most ${o.max}s, got ${s}s`);
      return s;
    })
    .meta({ type: 'duration', ...(o.min !== undefined ? { min: o.min } : {}), ...(o.max !== undefined ? { max: o.max } : {}) });
}

function bareObject<S extends z.ZodRawShape>(shape: S, unknownKey?: UnknownKeyMessage) {
  const known = Object.keys(shape);
  return z.strictObject(shape, unknownKey ? { error: (i) => (i.code === 'unrecognized_keys' ? unknownKey(known) : undefined) } : undefined);
}

/** zod schemas with Tessera's messages. Options mirror `t`'s; `default` applies when the key is absent. */
export const c = {
  string: (o: StringOptions = {}) => withDefault(bareString(o), o.default),
  number: (o: NumberOptions = {}) => withDefault(bareNumber(o), o.default),
  boolean: (o: Def<boolean> = {}) => withDefault(z.boolean(), o.default),
  /** Seconds; "90s", "5m", "1h", "1d", "250ms" or a number of seconds. */
  duration: (o: Def<number> & { min?: number; max?: number } = {}) => withDefault(bareDuration(o), o.default),
  enum: <const V extends string>(values: readonly [V, ...V[]], o: Def<V> = {}) => withDefault(z.enum(values) as z.ZodType<V>, o.default),
  array: <T>(item: z.ZodType<T>, o: Def<T[]> = {}) => withDefault(z.array(item), o.default),
  record: <T>(item: z.ZodType<T>, o: Def<Record<string, T>> = {}) => withDefault(z.record(z.string(), item), o.default),
  /** A map with exactly these keys; absent = {} (so its defaults apply). */
  section: <S extends z.ZodRawShape>(shape: S, o: { unknownKey?: UnknownKeyMessage } = {}) => bareObject(shape, o.unknownKey).prefault({} as never),
  /** A map with exactly these keys that may be absent as a whole (add .optional()). */
  object: <S extends z.ZodRawShape>(shape: S, o: { unknownKey?: UnknownKeyMessage } = {}) => bareObject(shape, o.unknownKey),
};

// ---- the Field API (attestors, oauth) ----

/**
 * A config value parsed at `path` (for messages). Fields made by `t` carry their zod
 * `schema`; hand-written ones only `parse`, and `fromField` embeds them in a schema.
 */
export interface Field<T> {
  parse(value: unknown, path: string): T;
  readonly describe: string;
  readonly schema?: z.ZodType<T>;
}

interface ZodField<T> extends Field<T> {
  readonly schema: z.ZodType<T>;
  /** Without the default: what `t.optional` wraps (an absent optional value stays undefined). */
  readonly bare: z.ZodType<T>;
}

function zodField<T>(bare: z.ZodType<T>, schema: z.ZodType<T>, describe: string): ZodField<T> {
  return { bare, schema, describe, parse: (v, p) => parseWith(schema, v, p) };
}

/** Marks the path a hand-written Field is given inside a schema, to find it again in its messages. */
const HERE = '\u0000';

/**
 * The zod schema of any Field: its own, or an adapter that runs a hand-written `parse`
 * (which handles an absent value itself: a default or "is required") and maps its
 * errors to issues. `optional`: an absent value stays undefined instead.
 */
export function fromField<T>(f: Field<T>, o: { optional?: boolean } = {}): z.ZodType<T> {
  if (f.schema) return o.optional ? (bareOf(f) as z.ZodType<T>).optional() as unknown as z.ZodType<T> : f.schema;
  // unknown().optional(): zod then runs the transform for an absent key too.
  return z.unknown().optional().transform((v, ctx) => {
    if (v === undefined && o.optional) return undefined as T;
    try { return f.parse(v, HERE); } catch (e) {
      for (const i of fieldIssues(e)) ctx.issues.push({ code: 'custom', input: v, path: i.path, message: i.message });
      return z.NEVER;
    }
  }).meta({ type: f.describe }) as unknown as z.ZodType<T>;
}

function fieldIssues(e: unknown): { path: PropertyKey[]; message: string }[] {
  if (e instanceof ConfigValidationError) return e.issues.map((i) => ({ path: relativePath(i.path), message: i.message }));
  if (e instanceof ConfigError) {
    return e.message.split('\n').map((line) => {
      const m = /^config: \u0000(.*?): ([\s\S]*)$/.exec(line);
      return m ? { path: relativePath(HERE + m[1]), message: m[2]! } : { path: [], message: line.replace(/^config: /, '') };
    });
  }
  return [{ path: [], message: e instanceof Error ? e.message : String(e) }];
}

/** "\0.a.b[2].c" -> ["a", "b", 2, "c"]; paths not under HERE are kept whole. */
function relativePath(p: string): PropertyKey[] {
  if (!p.startsWith(HERE)) return p ? [p] : [];
  const out: PropertyKey[] = [];
  for (const m of p.slice(1).matchAll(/\.([^.[]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

type Shape = Record<string, Field<unknown>>;
type Infer<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

const bareOf = <T>(f: Field<T>): z.ZodType<T> => (f as Partial<ZodField<T>>).bare ?? fromField(f);

/** A Field as an optional member of a schema: absent stays undefined (its defaults apply only when present). */
export const optionalField = <T>(f: Field<T>) => fromField(f, { optional: true }) as z.ZodType<T | undefined>;

export const t = {
  string(o: StringOptions = {}): Field<string> {
    const bare = bareString(o);
    return zodField(bare, withDefault(bare, o.default), 'string');
  },
  number(o: NumberOptions = {}): Field<number> {
    const bare = bareNumber(o);
    return zodField(bare, withDefault(bare, o.default), 'number');
  },
  boolean(o: Def<boolean> = {}): Field<boolean> {
    const bare = z.boolean();
    return zodField(bare, withDefault(bare, o.default), 'boolean');
  },
  /** Seconds. */
  duration(o: Def<number> & { min?: number; max?: number } = {}): Field<number> {
    const bare = bareDuration(o);
    return zodField(bare, withDefault(bare, o.default), 'duration');
  },
  enum<const V extends string>(values: readonly V[], o: Def<V> = {}): Field<V> {
    const bare = z.enum(values as unknown as [V, ...V[]]) as unknown as z.ZodType<V>;
    return zodField(bare, withDefault(bare, o.default), values.join('|'));
  },
  array<T>(item: Field<T>, o: Def<T[]> = {}): Field<T[]> {
    const bare = z.array(fromField(item));
    return zodField(bare, withDefault(bare, o.default), `list of ${item.describe}`);
  },
  record<T>(item: Field<T>, o: Def<Record<string, T>> = {}): Field<Record<string, T>> {
    const bare = z.record(z.string(), fromField(item)) as z.ZodType<Record<string, T>>;
    return zodField(bare, withDefault(bare, o.default), `map of ${item.describe}`);
  },
  optional<T>(f: Field<T>): Field<T | undefined> {
    const bare = fromField(f, { optional: true }) as z.ZodType<T | undefined>;
    return zodField(bare, bare, `${f.describe}?`);
  },
  /** A map with exactly these keys; absent = {} (so its defaults apply). */
  object<S extends Shape>(shape: S): Field<Infer<S>> {
    const bare = bareObject(Object.fromEntries(Object.entries(shape).map(([k, f]) => [k, fromField(f)]))) as unknown as z.ZodType<Infer<S>>;
    return zodField(bare, (bare as unknown as z.ZodObject).prefault({}) as unknown as z.ZodType<Infer<S>>, 'object');
  },
};

export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const mult = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 's']!;
  return n * mult;
}

export function parseConfig<T>(schema: Field<T>, raw: unknown): T {
  return schema.parse(raw, '');
}

/** The YAML document of a config file, as a map (ConfigError when unreadable, not YAML or not a map). */
export function readConfigDocument(path: string): Record<string, unknown> {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new ConfigError(`config: cannot read ${path}: ${(e as Error).message}`); }
  let raw: unknown;
  try { raw = parseYaml(text); } catch (e) { throw new ConfigError(`config: ${path} is not valid YAML: ${(e as Error).message}`); }
  raw ??= {};
  if (!isPlainObject(raw)) throw new ConfigError(`config: ${path}: must be a map of settings, got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  return raw;
}

export function loadConfigFile<T>(schema: Field<T>, path: string): T {
  return parseConfig(schema, readConfigDocument(path));
}

/**
 * In maps whose keys enable a section (node_attestors, workload_attestors), a key with
 * no value (`docker:` in YAML) enables it with its defaults: null becomes {}.
 */
export function presentSections(raw: unknown, key: string): unknown {
  if (!isPlainObject(raw) || !isPlainObject(raw[key])) return raw;
  return { ...raw, [key]: Object.fromEntries(Object.entries(raw[key]).map(([k, v]) => [k, v ?? {}])) };
}

/** What `config check` reports, and what loading a config file goes through. */
export interface ConfigCheck<T> {
  file: string;
  valid: boolean;
  issues: ConfigIssue[];
  /** Environment variables that overrode a setting. */
  env: string[];
  value?: T;
  /** The config, or a ConfigError listing every issue. */
  orThrow(): T;
}

/** Reads the file, applies the environment overrides and validates; never throws. */
export function checkConfigFile<T>(file: string, o: { env: NodeJS.ProcessEnv; overrides: readonly EnvOverride[]; validate(doc: unknown): Validated<T> }): ConfigCheck<T> {
  const result = (issues: ConfigIssue[], env: string[], value?: T): ConfigCheck<T> => ({
    file, valid: issues.length === 0, issues, env, value,
    orThrow() { if (issues.length > 0 || value === undefined) throw new ConfigValidationError(issues); return value; },
  });
  let doc: Record<string, unknown>;
  try { doc = readConfigDocument(file); } catch (e) {
    return result([{ path: '', message: (e as Error).message.replace(/^config: /, '') }], []);
  }
  const applied = applyEnvOverrides(doc, o.overrides, o.env);
  const r = o.validate(applied.doc);
  const issues = [...applied.issues, ...(r.ok ? [] : r.issues)];
  return result(issues, applied.applied, issues.length === 0 && r.ok ? r.value : undefined);
}

// ---- environment overrides (secrets kept out of config files) ----

/**
 * A setting that an environment variable overrides (the variable wins over the file,
 * a command-line flag over both). `apply` puts the value into the raw document and
 * returns a message when the document has no place for it.
 */
export interface EnvOverride {
  name: string;
  /** Dotted key path it sets, for docs and messages. */
  path: string;
  description: string;
  apply?(doc: Record<string, unknown>, value: string): string | undefined;
}

/** Applies the overrides whose variables are set (non-empty); returns a new document and issues. */
export function applyEnvOverrides(doc: Record<string, unknown>, overrides: readonly EnvOverride[], env: NodeJS.ProcessEnv)
  : { doc: Record<string, unknown>; issues: ConfigIssue[]; applied: string[] } {
  const out = structuredClone(doc);
  const issues: ConfigIssue[] = [];
  const applied: string[] = [];
  for (const o of overrides) {
    const value = env[o.name]?.replace(/\r?\n$/, '');
    if (!value) continue;
    const problem = o.apply ? o.apply(out, value) : setPath(out, o.path.split('.'), value);
    if (problem) issues.push({ path: o.path, message: `${problem} (set by ${o.name})` });
    else applied.push(o.name);
  }
  return { doc: out, issues, applied };
}

/** Sets doc[a][b]… = value, creating maps on the way; a message when a step is not a map. */
export function setPath(doc: Record<string, unknown>, keys: string[], value: unknown): string | undefined {
  let at = doc;
  for (const k of keys.slice(0, -1)) {
    at[k] ??= {};
    if (!isPlainObject(at[k])) return `${k} must be a map to take this value`;
    at = at[k] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]!] = value;
  return undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
