import { failedPrecondition, invalidArgument, notFound } from '../../common/errors.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { Logger } from '../../common/logger.ts';
import type { AuditAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/AuditAdmin.ts';
import type { AuditCheckpoint } from '../../proto/gen/tessera-api/tessera/v1/AuditCheckpoint.ts';
import type { AuditEventRecord } from '../../proto/gen/tessera-api/tessera/v1/AuditEventRecord.ts';
import type { Datastore } from '../datastore/types.ts';
import type { TlogCheckpoint, TlogLeaf } from '../datastore/sql-tlog.ts';
import type { AuditLog } from '../audit/log.ts';
import { exportLines } from '../audit/export.ts';
import { unary } from './unary.ts';

/**
 * tessera.v1.AuditAdmin on the admin socket (docs/audit.md): checkpoints, queries, proofs
 * and the export for the offline verifier. Reads work with the log disabled (appendAudit
 * records still land in it); signing a checkpoint needs it enabled.
 */
export interface AuditAdminDeps {
  store: Datastore;
  audit?: AuditLog;
  logger: Logger;
}

const EXPORT_BYTES = 256 * 1024;

export function auditAdminHandlers(d: AuditAdminDeps): AuditAdminHandlers {
  const log = d.logger.child({ component: 'audit-admin' });
  const enabled = (): AuditLog => {
    if (!d.audit) throw failedPrecondition('ERR_AUDIT_DISABLED', 'the transparency log is disabled on this server (audit.enabled: false)');
    return d.audit;
  };
  const wireCheckpoint = (cp: TlogCheckpoint): AuditCheckpoint => ({
    size: cp.size, root: Buffer.from(cp.root), note: cp.note, time_ms: cp.time,
    origin: d.audit?.origin ?? cp.note.split('\n')[0], verifier_key: d.audit?.verifierKey ?? '',
  });
  const wireEvent = (l: TlogLeaf): AuditEventRecord => ({
    index: l.index, time_ms: l.time, type: l.type, actor: l.actor ?? '', subject: l.subject ?? '', instance: l.instance ?? '',
    data: Buffer.from(l.data), leaf_hash: Buffer.from(l.leafHash),
  });
  /** The checkpoint a proof is made against: the given size's, or the newest. */
  const checkpointFor = async (size: number, atLeast = 0): Promise<TlogCheckpoint> => {
    const cp = size ? await d.store.getCheckpoint({ atMost: size }) : await d.store.getCheckpoint();
    if (!cp || (size && cp.size !== size) || cp.size < atLeast) {
      throw notFound('ERR_AUDIT_NO_CHECKPOINT', size
        ? `no signed checkpoint of size ${size} (sign one with \`tessera-server audit checkpoint --create\`, or omit tree_size)`
        : `no signed checkpoint covers ${atLeast} entries yet (sign one with \`tessera-server audit checkpoint --create\`)`);
    }
    return cp;
  };

  return {
    GetAuditCheckpoint: unary(log, 'GetAuditCheckpoint', async (call) => {
      const cp = call.request.create ? await enabled().checkpoint() : await d.store.getCheckpoint();
      if (!cp) throw notFound('ERR_AUDIT_NO_CHECKPOINT', 'no checkpoint has been signed yet');
      return wireCheckpoint(cp);
    }),

    ListAuditEvents: unary(log, 'ListAuditEvents', async (call) => {
      const r = call.request;
      if (r.limit > 10_000) throw invalidArgument('ERR_AUDIT_LIMIT', `limit ${r.limit} is above 10000`);
      const events = await d.store.queryLog({
        type: r.type || undefined, actor: r.actor || undefined, subject: r.subject || undefined, instance: r.instance || undefined,
        since: r.since_ms || undefined, until: r.until_ms || undefined,
        afterIndex: r.oldest_first ? r.from_index - 1 : undefined, limit: r.limit || 100,
      });
      return { events: events.map(wireEvent) };
    }),

    ProveAuditInclusion: unary(log, 'ProveAuditInclusion', async (call) => {
      const { index, tree_size } = call.request;
      const cp = await checkpointFor(tree_size, index + 1);
      const [leaf] = await d.store.logLeaves(index, index + 1);
      if (!leaf) throw notFound('ERR_AUDIT_RANGE', `entry ${index} does not exist`);
      const hashes = await d.store.logInclusionProof(index, cp.size);
      return {
        index, leaf_hash: Buffer.from(leaf.leafHash), leaf: Buffer.from(leaf.data), tree_size: cp.size,
        hashes: hashes.map((h) => Buffer.from(h)), checkpoint: cp.note,
      };
    }),

    ProveAuditConsistency: unary(log, 'ProveAuditConsistency', async (call) => {
      const { from_size, to_size } = call.request;
      const to = await checkpointFor(to_size, from_size);
      const from = await d.store.getCheckpoint({ atMost: from_size });
      const hashes = await d.store.logConsistencyProof(from_size, to.size);
      return {
        from_size, tree_size: to.size, hashes: hashes.map((h) => Buffer.from(h)), checkpoint: to.note,
        from_checkpoint: from?.size === from_size ? from.note : '',
      };
    }),

    ExportAudit(call) {
      const { to_size } = call.request;
      void (async () => {
        const cp = d.audit ? { origin: d.audit.origin, verifierKey: d.audit.verifierKey } : { origin: '', verifierKey: '' };
        let buf = '';
        for await (const chunk of exportLines(d.store, { ...cp, size: to_size || undefined })) {
          if (call.cancelled) return;
          buf += chunk;
          if (buf.length >= EXPORT_BYTES) {
            const ok = call.write({ data: Buffer.from(buf) });
            buf = '';
            if (!ok) await new Promise((r) => call.once('drain', r));
          }
        }
        if (buf) call.write({ data: Buffer.from(buf) });
        call.end();
      })().catch((e: unknown) => { log.warn('audit export failed', { err: e as Error }); call.emit('error', toGrpcError(e)); });
    },
  };
}
