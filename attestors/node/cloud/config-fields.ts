import { pemToDer } from '../../../spiffe/pem.ts';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { t, type Field } from '../../../common/config.ts';
import { ConfigError } from '../../../common/errors.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import type { RetryPolicy } from './http.ts';
import type { RemoteKeySetOptions } from './remote-keys.ts';

/** Config pieces shared by the cloud methods, so every method spells the same knob the same way. */

/** An http(s) base URL or endpoint, without a trailing slash. */
export function urlField(def?: string): Field<string> {
  const f = t.string({ default: def, pattern: /^https?:\/\/[^\s]+$/ });
  return { describe: 'url', parse: (v, p) => f.parse(v, p).replace(/\/+$/, '') };
}

/**
 * Agent-side metadata fetching: per-request `timeout`, `attempts` in total, and the
 * exponential `backoff` (first delay) capped at `max_backoff`.
 */
export const retryFields = {
  timeout: t.duration({ default: 5, min: 0.001 }),
  attempts: t.number({ default: 5, min: 1, max: 1000, integer: true }),
  backoff: t.duration({ default: 0.5 }),
  max_backoff: t.duration({ default: 30 }),
};

export function retryPolicy(c: { timeout: number; attempts: number; backoff: number; max_backoff: number }): RetryPolicy {
  return { timeoutMs: c.timeout * 1000, attempts: c.attempts, backoffMs: c.backoff * 1000, maxBackoffMs: c.max_backoff * 1000 };
}

/**
 * Server-side token checks with signing keys published at a URL (gcp_iit, azure_msi):
 * `leeway` on the time claims, how long fetched keys are trusted (`keys_max_age`), the
 * minimum gap between fetches triggered by unknown key ids (`keys_min_refresh`), and
 * the per-fetch `fetch_timeout`.
 */
export const signingKeyFields = {
  leeway: t.duration({ default: 60, max: 600 }),
  keys_max_age: t.duration({ default: 3600, min: 1 }),
  keys_min_refresh: t.duration({ default: 30 }),
  fetch_timeout: t.duration({ default: 5, min: 0.001 }),
};

export function remoteKeySetOptions(c: { keys_max_age: number; keys_min_refresh: number; fetch_timeout: number },
  deps: { clock: Clock; logger: Logger }, codePrefix: string): RemoteKeySetOptions {
  return {
    clock: deps.clock, logger: deps.logger, codePrefix,
    timeoutMs: c.fetch_timeout * 1000, maxAgeMs: c.keys_max_age * 1000, minRefreshMs: c.keys_min_refresh * 1000,
  };
}

/**
 * One or more X.509 certificates given inline as PEM text or as the path of a PEM
 * file. Loaded and parsed at start, so a bad trust root stops the process with the
 * key named, instead of failing every attestation later.
 */
export function pemCertificates(): Field<X509Certificate[]> {
  return {
    describe: 'PEM certificate(s) or path to a PEM file',
    parse: (v, p) => {
      if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(`config: ${p}: must be PEM text or a file path`);
      let text = v;
      if (!v.includes('-----BEGIN')) {
        try { text = readFileSync(v, 'utf8'); } catch (e) { throw new ConfigError(`config: ${p}: cannot read ${v}: ${(e as Error).message}`); }
      }
      const blocks = pemToDer(text);
      if (blocks.length === 0) throw new ConfigError(`config: ${p}: no PEM certificate found`);
      return blocks.map((b, i) => {
        try { return new X509Certificate(b); } catch (e) {
          throw new ConfigError(`config: ${p}: certificate #${i + 1} does not parse: ${(e as Error).message}`);
        }
      });
    },
  };
}

/** Exactly one certificate (e.g. the AWS certificate of one region). */
export function pemCertificate(): Field<X509Certificate> {
  const many = pemCertificates();
  return {
    describe: 'PEM certificate or path to a PEM file',
    parse: (v, p) => {
      const list = many.parse(v, p);
      if (list.length !== 1) throw new ConfigError(`config: ${p}: expected one certificate, found ${list.length}`);
      return list[0];
    },
  };
}

/** A non-empty list of strings: allow-lists that must never silently allow everything. */
export function requiredList(what: string): Field<string[]> {
  const f = t.array(t.string({ nonEmpty: true }));
  return {
    describe: `non-empty list of ${what}`,
    parse: (v, p) => {
      const list = f.parse(v, p);
      if (list.length === 0) throw new ConfigError(`config: ${p}: must list at least one ${what}`);
      return list;
    },
  };
}
