import test from 'ava';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { parsePrometheusText, PromParseError, valueOf } from './prom-text.ts';

/**
 * The scrape parser the ops tests rely on, checked against prom-client itself: what a
 * registry renders as text parses back to the registry's own JSON of the same
 * metrics, label escapes and histogram series included.
 */

test('what prom-client renders parses back to the registry\'s own JSON (round trip)', async (t) => {
  const registry = new Registry();
  const c = new Counter({ name: 'rt_requests_total', help: 'help with \\ backslash\nand newline', labelNames: ['method', 'status'], registers: [registry] });
  c.inc({ method: 'Fetch"X509"', status: 'OK' }, 3);
  c.inc({ method: 'a\\b\nc', status: 'PERMISSION_DENIED' });
  const g = new Gauge({ name: 'rt_reachable', help: 'gauge', registers: [registry] });
  g.set(-1.5e-7);
  const h = new Histogram({ name: 'rt_seconds', help: 'histogram', labelNames: ['type'], buckets: [0.01, 0.1, 1], registers: [registry] });
  for (const v of [0.005, 0.05, 0.5, 5]) h.observe({ type: 'x509' }, v);
  h.observe({ type: 'jwt' }, 0.02);

  const parsed = parsePrometheusText(await registry.metrics());
  const json = await registry.getMetricsAsJSON();
  t.deepEqual([...parsed.keys()].sort(), json.map((m) => m.name).sort());
  for (const m of json) {
    const f = parsed.get(m.name)!;
    t.is(f.type, String(m.type), m.name);
    t.is(f.help, m.help, m.name);
    const mine = f.samples.map((s) => JSON.stringify([s.name, Object.entries(s.labels).map(([k, v]) => [k, String(v)]).sort(), s.value])).sort();
    const theirs = m.values.map((v) => JSON.stringify([(v as { metricName?: string }).metricName ?? m.name,
      Object.entries(v.labels).map(([k, x]) => [k, x === Infinity ? '+Inf' : String(x)]).sort(), v.value])).sort();
    t.deepEqual(mine, theirs, m.name);
  }
  t.is(valueOf(parsed, 'rt_requests_total', { method: 'Fetch"X509"' }), 3);
  t.is(valueOf(parsed, 'rt_requests_total', { method: 'a\\b\nc' }), 1);
  t.is(valueOf(parsed, 'rt_seconds_count', { type: 'x509' }), 4);
  t.is(valueOf(parsed, 'rt_seconds_bucket', { type: 'x509', le: '+Inf' }), 4);
});

test('the parser refuses what the format does not allow', (t) => {
  for (const bad of [
    'x{a="1"} notanumber',
    'x{a=1} 1',
    'x{a="1" 1',
    'x{a="\\q"} 1',
    '9x 1',
    'x 1\nx 2',
    '# TYPE x histogram\nx_bucket{le="1"} 2\nx_bucket{le="+Inf"} 1\nx_count 1',
    '# TYPE x histogram\nx_bucket{le="+Inf"} 2\nx_count 3',
  ]) {
    t.throws(() => parsePrometheusText(bad), { instanceOf: PromParseError }, bad);
  }
});
