import { AsyncLocalStorage } from 'node:async_hooks';
import * as grpc from '@grpc/grpc-js';
import type { PeerCredentials } from '../../common/peercred/peer-credentials.ts';
import type { AuditRecord, Datastore } from '../datastore/types.ts';
import { withAppendAudit } from '../audit/issuance-store.ts';

/**
 * Who is calling the admin API: the kernel's credentials of the admin socket's peer
 * (SO_PEERCRED, read at accept by common/peercred), never anything the caller says.
 */
export type AdminCaller = PeerCredentials;

/**
 * The caller of the admin RPC being served, carried as async context: every handler
 * of every admin service runs inside it, so whatever the RPC audits, however deep,
 * names its caller, without each service threading the call through its helpers.
 */
const current = new AsyncLocalStorage<AdminCaller>();

/** The caller of the admin RPC this code runs for; undefined outside one. */
export function adminCaller(): AdminCaller | undefined {
  return current.getStore();
}

/**
 * Wraps each handler of an admin service so it runs with its caller as context. A call
 * whose connection has no pinned caller (it closed while the call was queued) is
 * refused with PERMISSION_DENIED before the handler runs: an admin change is never
 * made by an unknown caller.
 */
export function withAdminCaller<H extends object>(handlers: H, lookup: (peer: string) => AdminCaller | undefined): H {
  const out: Record<string, unknown> = {};
  for (const [name, h] of Object.entries(handlers)) {
    if (typeof h !== 'function') { out[name] = h; continue; }
    const handler = h as (call: grpc.ServerUnaryCall<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => unknown;
    out[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => {
      const caller = lookup(call.getPeer());
      if (!caller) {
        const err = Object.assign(new Error('the admin caller could not be identified (its connection is gone)'), { code: grpc.status.PERMISSION_DENIED });
        // Unary calls answer through the callback; a server stream fails with an 'error' event.
        if (typeof cb === 'function') cb(err); else (call as unknown as NodeJS.EventEmitter).emit('error', err);
        return;
      }
      return current.run(caller, () => handler(call, cb));
    };
  }
  return out as H;
}

/** The detail fields an admin change's audit record gets (docs/audit.md "Admin changes"). */
export function adminCallerFields(c: AdminCaller): { admin_uid: number; admin_gid: number; admin_pid: number } {
  return { admin_uid: c.uid, admin_gid: c.gid, admin_pid: c.pid };
}

/**
 * The datastore as the admin services see it: every audit record appended during an
 * admin RPC carries its caller's uid, gid and pid. The caller's fields win over
 * same-named ones in the record, so no request input can name another caller.
 */
export function adminAuditStore<S extends Pick<Datastore, 'appendAudit'>>(store: S): S {
  const appendAudit = (rec: AuditRecord): Promise<void> => {
    const c = adminCaller();
    return store.appendAudit(c ? { ...rec, data: { ...rec.data, ...adminCallerFields(c) } } : rec);
  };
  return withAppendAudit(store, appendAudit);
}
