import { performance } from 'node:perf_hooks';
import type { Histogram } from 'prom-client';
import { outcomeOf } from '../api/observer.ts';
import type { Datastore } from '../datastore/types.ts';

/** Calls that return no promise of work worth timing. */
const UNTIMED = new Set<PropertyKey>(['subscribe', 'close', 'constructor']);

/**
 * The datastore as every component sees it, each call timed from outside (the store
 * implementations stay as they are): operation = the method name, a fixed set.
 */
export function timedDatastore(store: Datastore, seconds: Histogram<'operation' | 'outcome'>): Datastore {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        fn = UNTIMED.has(prop) || typeof prop !== 'string' ? method.bind(target) : timed(method, target, prop, seconds);
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

function timed(method: (...args: unknown[]) => unknown, target: object, operation: string, seconds: Histogram<'operation' | 'outcome'>) {
  return (...args: unknown[]): unknown => {
    const start = performance.now();
    const done = (outcome: string) => seconds.observe({ operation, outcome }, (performance.now() - start) / 1000);
    let result: unknown;
    try { result = method.apply(target, args); } catch (e) { done(outcomeOf(e)); throw e; }
    if (result instanceof Promise) {
      return result.then((v) => { done('ok'); return v; }, (e: unknown) => { done(outcomeOf(e)); throw e; });
    }
    done('ok');
    return result;
  };
}
