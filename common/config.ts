import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';

/**
 * A tiny typed schema for YAML config files. Every value is validated at start;
 * an unknown key or a bad value stops the process with a message naming the key
 * path (e.g. `ca.key_type`). Durations accept "90s", "5m", "1h", "1d" or seconds.
 */
export interface Field<T> {
  parse(value: unknown, path: string): T;
  readonly describe: string;
}

type Shape = Record<string, Field<unknown>>;
type Infer<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

const fail = (path: string, msg: string): never => { throw new ConfigError(`config: ${path || '(root)'}: ${msg}`); };

function withDefault<T>(f: Field<T>, def: T | undefined): Field<T> {
  return { describe: f.describe, parse: (v, p) => (v === undefined || v === null) ? (def === undefined ? fail(p, 'is required') : def) : f.parse(v, p) };
}

export const t = {
  string(opts: { default?: string; pattern?: RegExp; nonEmpty?: boolean } = {}): Field<string> {
    return withDefault({
      describe: 'string',
      parse: (v, p) => {
        if (typeof v !== 'string') return fail(p, `must be a string, got ${typeof v}`);
        if (opts.nonEmpty && v.length === 0) return fail(p, 'must not be empty');
        if (opts.pattern && !opts.pattern.test(v)) return fail(p, `"${v}" does not match ${opts.pattern}`);
        return v;
      },
    }, opts.default);
  },
  number(opts: { default?: number; min?: number; max?: number; integer?: boolean } = {}): Field<number> {
    return withDefault({
      describe: 'number',
      parse: (v, p) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) return fail(p, `must be a number, got ${JSON.stringify(v)}`);
        if (opts.integer && !Number.isInteger(v)) return fail(p, `must be an integer, got ${v}`);
        if (opts.min !== undefined && v < opts.min) return fail(p, `must be >= ${opts.min}, got ${v}`);
        if (opts.max !== undefined && v > opts.max) return fail(p, `must be <= ${opts.max}, got ${v}`);
        return v;
      },
    }, opts.default);
  },
  boolean(opts: { default?: boolean } = {}): Field<boolean> {
    return withDefault({
      describe: 'boolean',
      parse: (v, p) => typeof v === 'boolean' ? v : fail(p, `must be true or false, got ${JSON.stringify(v)}`),
    }, opts.default);
  },
  /** Seconds. */
  duration(opts: { default?: number; min?: number; max?: number } = {}): Field<number> {
    return withDefault({
      describe: 'duration',
      parse: (v, p) => {
        const s = parseDuration(v);
        if (s === undefined) return fail(p, `must be a duration like "90s", "5m", "1h", "1d" or seconds, got ${JSON.stringify(v)}`);
        if (opts.min !== undefined && s < opts.min) return fail(p, `must be at least ${opts.min}s, got ${s}s`);
        if (opts.max !== undefined && s > opts.max) return fail(p, `must be at most ${opts.max}s, got ${s}s`);
        return s;
      },
    }, opts.default);
  },
  enum<const V extends string>(values: readonly V[], opts: { default?: V } = {}): Field<V> {
    return withDefault({
      describe: values.join('|'),
      parse: (v, p) => (typeof v === 'string' && (values as readonly string[]).includes(v)) ? v as V
        : fail(p, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`),
    }, opts.default);
  },
  array<T>(item: Field<T>, opts: { default?: T[] } = {}): Field<T[]> {
    return withDefault({
      describe: `list of ${item.describe}`,
      parse: (v, p) => Array.isArray(v) ? v.map((x, i) => item.parse(x, `${p}[${i}]`)) : fail(p, 'must be a list'),
    }, opts.default);
  },
  record<T>(item: Field<T>, opts: { default?: Record<string, T> } = {}): Field<Record<string, T>> {
    return withDefault({
      describe: `map of ${item.describe}`,
      parse: (v, p) => {
        if (!isPlainObject(v)) return fail(p, 'must be a map');
        const out: Record<string, T> = {};
        for (const [k, x] of Object.entries(v)) out[k] = item.parse(x, join(p, k));
        return out;
      },
    }, opts.default);
  },
  optional<T>(f: Field<T>): Field<T | undefined> {
    return { describe: `${f.describe}?`, parse: (v, p) => (v === undefined || v === null) ? undefined : f.parse(v, p) };
  },
  object<S extends Shape>(shape: S): Field<Infer<S>> {
    return {
      describe: 'object',
      parse: (v, p) => {
        if (v === undefined || v === null) v = {};
        if (!isPlainObject(v)) return fail(p, 'must be a map');
        for (const k of Object.keys(v)) if (!(k in shape)) fail(join(p, k), `unknown key (known: ${Object.keys(shape).join(', ')})`);
        const out: Record<string, unknown> = {};
        for (const [k, f] of Object.entries(shape)) out[k] = f.parse((v as Record<string, unknown>)[k], join(p, k));
        return out as Infer<S>;
      },
    };
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

export function loadConfigFile<T>(schema: Field<T>, path: string): T {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new ConfigError(`config: cannot read ${path}: ${(e as Error).message}`); }
  let raw: unknown;
  try { raw = parseYaml(text); } catch (e) { throw new ConfigError(`config: ${path} is not valid YAML: ${(e as Error).message}`); }
  return parseConfig(schema, raw ?? {});
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function join(p: string, k: string): string { return p ? `${p}.${k}` : k; }
