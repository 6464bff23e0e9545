import type { IncomingMessage } from 'node:http';

/**
 * The JSON-RPC body of an MCP POST, read once before the transport so per-tool scopes
 * can be checked at the HTTP layer (a 403 the client can step up on). The parsed body
 * is then handed to the transport (`transport.handleRequest(req, res, req.body)`,
 * Express's `req.body` convention), which never reads the stream a second time.
 */

/** The MCP SDK's own ceiling for one message. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class BodyError extends Error {
  constructor(readonly status: 400 | 413 | 415, message: string) { super(message); }
}

type WithBody = IncomingMessage & { body?: unknown };

/** The parsed JSON body (Express may already have parsed it), or undefined for non-JSON requests. */
export async function jsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const r = req as WithBody;
  if (r.body !== undefined) return r.body;
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) return undefined;
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyError(413, `request body exceeds ${maxBytes} bytes`);
    parts.push(chunk);
  }
  let parsed: unknown;
  try { parsed = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch (err) {
    throw new BodyError(400, `request body is not JSON: ${(err as Error).message}`);
  }
  r.body = parsed;
  return parsed;
}

/** Names of the tools a JSON-RPC message (or batch) calls. */
export function calledTools(body: unknown): string[] {
  const msgs = Array.isArray(body) ? body : [body];
  const out: string[] = [];
  for (const m of msgs) {
    const msg = m as { method?: unknown; params?: { name?: unknown } } | null;
    if (msg && msg.method === 'tools/call' && typeof msg.params?.name === 'string') out.push(msg.params.name);
  }
  return out;
}

/** A JSON-RPC error answer for a body the transport will never see. */
export function jsonRpcError(e: BodyError): string {
  const code = e.status === 400 ? -32700 : -32600;
  return JSON.stringify({ jsonrpc: '2.0', error: { code, message: e.message }, id: null });
}
