import { isIP } from 'node:net';
import type { SsfMethod, SsfStreamRecord } from '../datastore/sql-ssf.ts';
import { badRequest } from './errors.ts';
import { EVENTS_SUPPORTED } from './events.ts';

/**
 * A stream's configuration (SSF 1.0 §8.1.1): what the receiver supplies (delivery,
 * events_requested, description) is parsed here into a value the rest trusts; what the
 * transmitter supplies (stream_id, iss, aud, events_supported, events_delivered) may
 * be echoed back by a receiver but must then match.
 */
export const PUSH = 'urn:ietf:rfc:8935';
export const POLL = 'urn:ietf:rfc:8936';
export const DELIVERY_METHODS = [PUSH, POLL] as const;

/** What the store keeps as `config` (JSON). */
export interface StoredConfig {
  aud: string;
  events_requested: string[];
  /** push: the receiver's endpoint and the Authorization header it wants; poll: nothing (our endpoint). */
  endpoint_url?: string;
  authorization_header?: string;
  description?: string;
}

const MAX_DESCRIPTION = 1024;
const MAX_EVENTS = 64;

export interface ReceiverFields { method: SsfMethod; config: StoredConfig }

/**
 * Receiver-supplied fields of a create (all optional) or PUT (a replacement) body;
 * `base` (PATCH) keeps what the body leaves out.
 */
export function parseReceiverFields(body: Record<string, unknown>, aud: string, base?: ReceiverFields): ReceiverFields {
  let method = base?.method ?? 'poll';
  let endpoint = base?.config.endpoint_url;
  let authz = base?.config.authorization_header;
  if (body.delivery !== undefined) {
    const d = body.delivery as Record<string, unknown>;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw badRequest('delivery must be an object {method, endpoint_url}');
    if (d.method !== PUSH && d.method !== POLL) throw badRequest(`delivery.method ${JSON.stringify(d.method)?.slice(0, 100)} is not supported; use ${PUSH} (push) or ${POLL} (poll)`);
    method = d.method === PUSH ? 'push' : 'poll';
    endpoint = undefined; authz = undefined;
    if (method === 'push') {
      endpoint = pushEndpoint(d.endpoint_url);
      if (d.authorization_header !== undefined) {
        if (typeof d.authorization_header !== 'string' || !/^[\x20-\x7e]{1,4096}$/.test(d.authorization_header)) {
          throw badRequest('delivery.authorization_header must be a printable ASCII string of at most 4096 characters');
        }
        authz = d.authorization_header;
      }
    }
  } else if (!base) {
    method = 'poll'; // SSF §8.1.1.1: no delivery means poll
  }
  let requested = base?.config.events_requested ?? [...EVENTS_SUPPORTED];
  if (body.events_requested !== undefined) {
    const e = body.events_requested;
    if (!Array.isArray(e) || e.length > MAX_EVENTS || !e.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 512)) {
      throw badRequest(`events_requested must be an array of at most ${MAX_EVENTS} event type URIs`);
    }
    requested = [...new Set(e as string[])];
  }
  let description = base?.config.description;
  if (body.description !== undefined) {
    if (typeof body.description !== 'string') throw badRequest('description must be a string');
    description = body.description.slice(0, MAX_DESCRIPTION);
  }
  return {
    method,
    config: { aud, events_requested: requested, ...(endpoint ? { endpoint_url: endpoint } : {}), ...(authz ? { authorization_header: authz } : {}), ...(description !== undefined ? { description } : {}) },
  };
}

/**
 * The receiver's push endpoint: https, or http on a loopback address (a receiver on the
 * same host; nothing crosses a network in clear). No credentials or fragment in the URL.
 */
function pushEndpoint(v: unknown): string {
  if (typeof v !== 'string' || v.length > 2048) throw badRequest('delivery.endpoint_url is required for push delivery: the https URL the SETs are POSTed to');
  let u: URL;
  try { u = new URL(v); } catch { throw badRequest(`delivery.endpoint_url ${JSON.stringify(v.slice(0, 200))} is not a URL`); }
  if (u.username || u.password || u.hash) throw badRequest('delivery.endpoint_url must not carry credentials or a fragment; use delivery.authorization_header');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
    throw badRequest(`delivery.endpoint_url ${JSON.stringify(v.slice(0, 200))} must be https (http only on a loopback address)`);
  }
  return u.href;
}

export const eventsDelivered = (c: StoredConfig): string[] => EVENTS_SUPPORTED.filter((e) => c.events_requested.includes(e));

/** The configuration as SSF returns it; the push Authorization header is the receiver's secret and is never echoed. */
export function streamView(r: SsfStreamRecord, issuer: string, pollUrl: string): Record<string, unknown> {
  const c = JSON.parse(r.config) as StoredConfig;
  return {
    stream_id: r.id, iss: issuer, aud: c.aud,
    delivery: r.method === 'push' ? { method: PUSH, endpoint_url: c.endpoint_url } : { method: POLL, endpoint_url: `${pollUrl}?stream_id=${encodeURIComponent(r.id)}` },
    events_supported: [...EVENTS_SUPPORTED], events_requested: c.events_requested, events_delivered: eventsDelivered(c),
    ...(c.description !== undefined ? { description: c.description } : {}),
  };
}

/** Transmitter-supplied fields a receiver sent must match what we would say (SSF §8.1.1.3). */
export function checkTransmitterFields(body: Record<string, unknown>, expected: Record<string, unknown>): void {
  for (const k of ['iss', 'aud', 'events_supported', 'events_delivered'] as const) {
    if (body[k] === undefined || k === 'events_delivered' && expected[k] === undefined) continue;
    if (JSON.stringify(body[k]) !== JSON.stringify(expected[k])) {
      throw badRequest(`${k} is set by the transmitter and is ${JSON.stringify(expected[k])}, not ${JSON.stringify(body[k]).slice(0, 200)}`);
    }
  }
}
