import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { adminAuditStore, adminCaller, withAdminCaller, type AdminCaller } from '../../server/api/admin-caller.ts';
import type { AuditRecord } from '../../server/datastore/types.ts';

/** How admin handlers learn their caller (server/api/admin-caller.ts); the real socket is in admin-caller.test.ts. */
const ALICE: AdminCaller = { uid: 1000, gid: 1000, pid: 4242 };
const lookup = (peer: string) => (peer === 'peercred:1' ? ALICE : undefined);
const call = (peer: string) => Object.assign(new EventEmitter(), { getPeer: () => peer }) as unknown as grpc.ServerUnaryCall<unknown, unknown>;

test('every audit record appended during an admin call carries its caller, over anything the record says', async (t) => {
  const appended: AuditRecord[] = [];
  const store = adminAuditStore({ appendAudit: async (r: AuditRecord) => { appended.push(r); }, listAudit: async () => [] });
  const handlers = withAdminCaller({
    Change: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => {
      void (async () => {
        await Promise.resolve(); // after an await too: the context follows the call
        await store.appendAudit({ time: 1, event: 'entry.created', subject: 'e1', data: { admin_uid: 0, spiffe_id: 'spiffe://x/y' } });
        cb(null, {});
      })();
    },
  }, lookup);
  await new Promise((resolve) => handlers.Change(call('peercred:1'), resolve));
  t.deepEqual(appended[0]!.data, { spiffe_id: 'spiffe://x/y', admin_uid: 1000, admin_gid: 1000, admin_pid: 4242 });
  // Outside an admin call nothing is added, and other methods pass through.
  await store.appendAudit({ time: 1, event: 'x', subject: 's', data: {} });
  t.deepEqual(appended[1]!.data, {});
  t.deepEqual(await store.listAudit(), []);
  t.is(adminCaller(), undefined);
});

test('a call whose connection has no pinned caller is refused before its handler runs', async (t) => {
  let ran = false;
  const handlers = withAdminCaller({
    Unary: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => { ran = true; cb(null, {}); },
    Stream: (_c: unknown) => { ran = true; },
  }, lookup);
  const err = await new Promise<grpc.ServiceError>((resolve) => handlers.Unary(call('peercred:2'), (e) => resolve(e as grpc.ServiceError)));
  t.is(err.code, grpc.status.PERMISSION_DENIED);
  const stream = call('peercred:2') as unknown as EventEmitter;
  const streamErr = new Promise<grpc.ServiceError>((resolve) => stream.once('error', resolve));
  handlers.Stream(stream as never);
  t.is((await streamErr).code, grpc.status.PERMISSION_DENIED);
  t.false(ran);
});
