// The package ships no types; this is the shape its README documents.
declare module 'parse-prometheus-text-format' {
  interface PromMetric { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }
  interface PromFamily { name: string; help: string; type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'; metrics: PromMetric[] }
  export default function parsePrometheusTextFormat(text: string): PromFamily[];
}
