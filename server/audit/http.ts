import type { Route } from '../oauth/listener.ts';
import type { AuditLog } from './log.ts';

/**
 * Public read-only paths on the OAuth listener (docs/audit.md): the verifier key and the
 * newest signed checkpoint, as text, for monitors and witnesses. Neither needs a client
 * certificate: both are public by design (the checkpoint is signed).
 */
export function auditRoutes(log: AuditLog): Route[] {
  const text = (res: import('node:http').ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  };
  return [
    { method: 'GET', path: '/audit/key', handler: ({ res }) => text(res, 200, `${log.verifierKey}\n`) },
    {
      method: 'GET', path: '/audit/checkpoint',
      async handler({ res }) {
        const cp = await log.latest();
        if (!cp) text(res, 404, 'no checkpoint has been signed yet\n');
        else text(res, 200, cp.note);
      },
    },
  ];
}
