/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests
 * that scrape /metrics: a character-level reader of HELP/TYPE lines, metric names,
 * label sets (with the format's escapes) and values, which refuses anything the format
 * does not allow instead of guessing. test/ops/prom-text.test.ts checks it against
 * prom-client itself: whatever a registry renders parses back to that registry's
 * own JSON view of the same metrics.
 */
export interface Sample { name: string; labels: Record<string, string>; value: number }
export interface Family { name: string; help?: string; type: string; samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class PromParseError extends Error {}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { name, type: 'untyped', samples: [] });
    return f;
  };
  text.split('\n').forEach((line, i) => {
    const fail = (msg: string): never => { throw new PromParseError(`line ${i + 1}: ${msg}: ${JSON.stringify(line)}`); };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name!)) fail('bad metric name');
      const f = family(name!);
      if (kind === 'HELP') {
        if (f.help !== undefined) fail('second HELP');
        f.help = unescape(rest!, false, fail);
      } else {
        if (!TYPES.has(rest!)) fail('unknown TYPE');
        if (f.samples.length > 0 || f.type !== 'untyped') fail('TYPE after samples or twice');
        f.type = rest!;
      }
      return;
    }
    const s = sampleLine(line, fail);
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    if (seen.has(key)) fail('duplicate sample');
    seen.add(key);
    family(familyOf(s.name, families)).samples.push(s);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** name_bucket / name_sum / name_count belong to histogram or summary family `name`. */
function familyOf(sample: string, families: Map<string, Family>): string {
  const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
  if (m && ['histogram', 'summary'].includes(families.get(m[1]!)?.type ?? '')) return m[1]!;
  return sample;
}

function sampleLine(line: string, fail: (m: string) => never): Sample {
  let i = 0;
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) fail('expected a metric name and a value');
  const name = line.slice(0, nameEnd);
  if (!NAME.test(name)) fail('bad metric name');
  i = nameEnd;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0) fail('expected label=value');
      const label = line.slice(i, eq);
      if (!LABEL.test(label)) fail(`bad label name ${JSON.stringify(label)}`);
      if (label in labels) fail(`label ${label} twice`);
      if (line[eq + 1] !== '"') fail('label value must be quoted');
      let j = eq + 2;
      let raw = '';
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\') { raw += line.slice(j, j + 2); j++; } else raw += line[j];
      }
      if (j >= line.length) fail('unterminated label value');
      labels[label] = unescape(raw, true, fail);
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') fail('expected , or } after a label');
    }
    i++;
  }
  if (line[i] !== ' ') fail('expected a space before the value');
  const parts = line.slice(i + 1).split(' ');
  if (parts.length > 2) fail('trailing fields');
  const value = number(parts[0]!, fail);
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail('bad timestamp');
  return { name, labels, value };
}

function number(s: string, fail: (m: string) => never): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) fail(`bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** HELP text allows \\ and \n; label values also \". */
function unescape(s: string, quotes: boolean, fail: (m: string) => never): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') { out += s[i]; continue; }
    const c = s[++i];
    if (c === '\\') out += '\\';
    else if (c === 'n') out += '\n';
    else if (c === '"' && quotes) out += '"';
    else fail(`bad escape \\${c ?? ''}`);
  }
  return out;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    if (!series.has(k)) series.set(k, []);
    series.get(k)!.push(s);
    if (s.name === `${f.name}_bucket` && le === undefined) throw new PromParseError(`${f.name}: a bucket without le`);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`).sort((a, b) => Number(a.labels.le!.replace('+Inf', 'Infinity')) - Number(b.labels.le!.replace('+Inf', 'Infinity')));
    const count = samples.find((s) => s.name === `${f.name}_count`)?.value;
    for (let i = 1; i < buckets.length; i++) if (buckets[i]!.value < buckets[i - 1]!.value) throw new PromParseError(`${f.name}: buckets are not cumulative`);
    const inf = buckets.at(-1);
    if (!inf || inf.labels.le !== '+Inf' || inf.value !== count) throw new PromParseError(`${f.name}: the +Inf bucket must equal _count`);
  }
}

/** The value of the one sample of `family` whose labels include `labels` (undefined when none). */
export function valueOf(families: Map<string, Family>, sample: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(sample) ?? families.get(sample.replace(/_(bucket|sum|count)$/, ''));
  const hits = (f?.samples ?? []).filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${sample} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}
