import type { IncomingMessage, ServerResponse } from 'node:http';
import { SetRejected } from './errors.ts';
import { ReplayCache } from './replay.ts';
import type { SsfRevocations } from './revocations.ts';
import { verifySet, type SecurityEvent, type VerifySetOptions } from './set.ts';

export interface PushReceiverOptions extends VerifySetOptions {
  /** Revocations learnt from the SETs go here (feed it to verifyDelegatedToken as `revocations`). */
  revocations?: SsfRevocations;
  /** Every accepted SET, after `revocations` applied it. A throw answers 500 (the transmitter retries). */
  onEvent?: (ev: SecurityEvent) => void | Promise<void>;
  /** For verification events: the `state` this receiver asked for; a different one is refused. */
  expectState?: (state: unknown) => boolean;
  /** jtis remembered against replay (default 100 000, oldest forgotten first). */
  replayCapacity?: number;
  /** Largest SET accepted, bytes (default 64 KiB). */
  maxBytes?: number;
}

const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

/**
 * An RFC 8935 push endpoint as a node:http request handler: POST with
 * `Content-Type: application/secevent+jwt`, the SET verified (verifySet: signature
 * against the transmitter's JWKS, typ, iss, aud), its jti checked against replay, then
 * acknowledged with 202. A refusal is 400 with the RFC's {err, description} JSON,
 * which tells the transmitter not to send it again; a failure of `onEvent` is 500, which
 * tells it to retry.
 */
export function createPushReceiver(o: PushReceiverOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const seen = new ReplayCache(o.replayCapacity ?? 100_000);
  const maxBytes = o.maxBytes ?? 64 * 1024;
  return (req, res) => {
    void (async () => {
      if (req.method !== 'POST') { res.writeHead(405, { allow: 'POST' }).end(); return; }
      let ev: SecurityEvent;
      try {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/secevent+jwt') throw new SetRejected('invalid_request', `Content-Type must be application/secevent+jwt, not ${JSON.stringify(type)}`);
        const body = await read(req, maxBytes);
        ev = await verifySet(body.trim(), o);
        if (ev.type === VERIFICATION && o.expectState && !o.expectState(ev.event.state)) {
          throw new SetRejected('invalid_request', 'the verification event state is not the one this receiver asked for');
        }
        if (!seen.add(ev.jti)) throw new SetRejected('invalid_request', `SET ${ev.jti} was already received (replay)`);
      } catch (e) {
        if (!(e instanceof SetRejected)) { fail(res, 500); return; }
        const text = JSON.stringify(e.toJSON());
        res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
        return;
      }
      try {
        o.revocations?.apply(ev);
        await o.onEvent?.(ev);
      } catch {
        seen.delete(ev.jti); // not processed: the retry must be accepted
        fail(res, 500);
        return;
      }
      res.writeHead(202).end();
    })();
  };
}

function fail(res: ServerResponse, status: number): void {
  if (!res.headersSent) res.writeHead(status).end(); else res.destroy();
}

function read(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
      if (n > max) { req.pause(); reject(new SetRejected('invalid_request', `the SET is larger than ${max} bytes`)); return; }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
