/**
 * The little HTTP plumbing the delegation example shares: one JSON request over an
 * mTLS agent (the caller's SVID, the callee verified by SPIFFE ID), and JSON logs on
 * stderr so that stdout carries only what each program reports.
 */
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';

export const log = (msg: string, fields: Record<string, unknown> = {}) => console.error(JSON.stringify({ msg, ...fields }));

export const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) { log(`${name} is required`); process.exit(64); }
  return v;
};

export interface Reply { status: number; body: Record<string, unknown> }

/** `method url` with an optional JSON body and headers; resolves with the JSON answer whatever the status. */
export function request(url: string, o: { agent: https.Agent; method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Reply> {
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      agent: o.agent, method: o.method ?? (payload ? 'POST' : 'GET'),
      headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}), ...o.headers },
    }, (res) => readJson(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The JSON object of a request or response body ({} when empty or not JSON). */
export async function readJson(msg: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of msg) text += chunk;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {};
  } catch { return {}; }
}
