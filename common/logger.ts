/** Structured JSON logs, one object per line. Passed in explicitly, never global. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default process.stderr (stdout stays for command output). */
  write?: (line: string) => void;
  fields?: LogFields;
  now?: () => number;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = RANK[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const now = opts.now ?? Date.now;
  const base = opts.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    const rec: LogFields = { time: new Date(now()).toISOString(), level, msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = v instanceof Error ? serializeError(v) : v;
    write(JSON.stringify(rec, jsonSafe) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });

/** Collects records in memory: the logger fake for tests. */
export function memoryLogger(): Logger & { records: LogFields[] } {
  const records: LogFields[] = [];
  const l = createLogger({ level: 'debug', write: (line) => records.push(JSON.parse(line)) });
  return Object.assign(l, { records });
}

function serializeError(e: Error): LogFields {
  const out: LogFields = { name: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  return out;
}

function jsonSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return v;
}

/**
 * A logger that writes each distinct message (level + msg) at most once per
 * `intervalMs`, for lines a caller or an outage can produce at will (one per request,
 * per connection). The first line of a message after a quiet spell carries
 * `suppressed_similar: N`, the number of lines like it that were dropped since the
 * last one written. Children share the limits of their parent.
 */
export function rateLimited(logger: Logger, intervalMs: number, now: () => number = Date.now): Logger {
  return limitedView(logger, { intervalMs, now, last: new Map() });
}

interface RateState { intervalMs: number; now: () => number; last: Map<string, { at: number; suppressed: number }> }

/** Distinct messages remembered; messages are code constants, so this is never reached in practice. */
const MAX_RATE_KEYS = 1000;

function limitedView(inner: Logger, s: RateState): Logger {
  const emit = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
    const key = `${level}\u0000${msg}`;
    const t = s.now();
    const prev = s.last.get(key);
    if (prev && t - prev.at < s.intervalMs) { prev.suppressed++; return; }
    if (!prev && s.last.size >= MAX_RATE_KEYS) s.last.delete(s.last.keys().next().value!);
    s.last.set(key, { at: t, suppressed: 0 });
    inner[level](msg, prev?.suppressed ? { ...fields, suppressed_similar: prev.suppressed } : fields);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => limitedView(inner.child(fields), s),
  };
}
