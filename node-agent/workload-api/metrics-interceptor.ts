import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';

/**
 * What the Workload API endpoint reports to metrics (node-agent/metrics): one call per
 * request, when it is answered. A unary call is answered by its status; a stream by its
 * first response (status OK: the workload has what it asked for, however long the
 * stream then stays open), or by its status when it ends without one. `seconds` runs
 * from the call's arrival, caller attestation included.
 */
export interface WorkloadApiObserver {
  request(method: string, status: string, seconds: number): void;
}

const STATUS_NAMES = new Map<number, string>(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

/** Method paths served on the socket (from the package definitions), with whether the response streams. */
export type KnownMethods = Map<string, { name: string; streaming: boolean }>;

export function knownMethods(packageDefinition: Record<string, unknown>): KnownMethods {
  const out: KnownMethods = new Map();
  for (const def of Object.values(packageDefinition)) {
    if (typeof def !== 'object' || def === null) continue;
    for (const [name, m] of Object.entries(def as Record<string, unknown>)) {
      const method = m as { path?: unknown; responseStream?: unknown };
      if (typeof method?.path === 'string') out.set(method.path, { name, streaming: method.responseStream === true });
    }
  }
  return out;
}

/**
 * The outermost server interceptor: it sees calls the caller interceptor refuses
 * (missing security header, failed attestation) as well as handled ones. Any local
 * user may call any path, so a path not served here is labelled "other".
 */
export function metricsInterceptor(observer: WorkloadApiObserver, methods: KnownMethods): grpc.ServerInterceptor {
  return (descriptor, call) => {
    const known = methods.get(descriptor.path);
    const name = known?.name ?? 'other';
    const start = performance.now();
    let reported = false;
    const report = (status: string) => {
      if (reported) return;
      reported = true;
      observer.request(name, status, (performance.now() - start) / 1000);
    };
    return new grpc.ServerInterceptingCall(call, {
      sendMessage: (message, next) => {
        if (known?.streaming) report('OK');
        next(message);
      },
      sendStatus: (status, next) => {
        report(STATUS_NAMES.get(status.code) ?? String(status.code));
        next(status);
      },
    });
  };
}
