import * as grpc from '@grpc/grpc-js';
import { loadAdminProto } from '../../common/proto.ts';
import type { EntryAdminClient } from '../../proto/gen/tessera-api/tessera/v1/EntryAdmin.ts';
import type { Entry } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';

/**
 * BatchCreateEntry on a server's admin socket for benches: resolves once every entry of
 * the batch is created, rejects with the first entry's refusal otherwise; close() closes
 * the admin client.
 */
export function entryCreator(adminSocket: string): ((entries: Entry[]) => Promise<void>) & { close(): void } {
  const Admin = loadAdminProto().tessera.v1.EntryAdmin;
  const admin = new Admin(`unix://${adminSocket}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 }) as unknown as EntryAdminClient;
  const create = (entries: Entry[]) => new Promise<void>((resolve, reject) =>
    admin.BatchCreateEntry({ entries }, (err, res) => {
      if (err) return reject(err);
      const bad = res!.results.find((r) => r.status?.code !== 0);
      return bad ? reject(new Error(bad.status!.message)) : resolve();
    }));
  return Object.assign(create, { close: () => admin.close() });
}
