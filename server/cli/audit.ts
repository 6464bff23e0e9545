import * as grpc from '@grpc/grpc-js';
import { createWriteStream } from 'node:fs';
import { formatTable, optString, UsageError, type Command, type CommandContext } from '../../common/cli.ts';
import { loadAdminProto } from '../../common/proto.ts';
import type { AuditAdminClient } from '../../proto/gen/tessera-api/tessera/v1/AuditAdmin.ts';
import type { AuditCheckpoint__Output } from '../../proto/gen/tessera-api/tessera/v1/AuditCheckpoint.ts';
import type { AuditEventRecord__Output } from '../../proto/gen/tessera-api/tessera/v1/AuditEventRecord.ts';
import type { AuditExportChunk__Output } from '../../proto/gen/tessera-api/tessera/v1/AuditExportChunk.ts';
import type { AuditProof__Output } from '../../proto/gen/tessera-api/tessera/v1/AuditProof.ts';
import type { ListAuditEventsResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListAuditEventsResponse.ts';
import { call, SOCKET_OPTIONS, socketPath, withAdmin } from './admin-client.ts';

/** `tessera-server audit ...`: the transparency log (docs/audit.md) through the admin socket. */
function withAudit<T>(ctx: CommandContext, fn: (c: AuditAdminClient) => Promise<T>): Promise<T> {
  return withAdmin(ctx, async () => {
    const p = loadAdminProto().tessera.v1;
    const client = new p.AuditAdmin(`unix://${socketPath(ctx.options, ctx.io.env)}`, grpc.credentials.createInsecure());
    try { return await fn(client); } finally { client.close(); }
  });
}

function whole(ctx: CommandContext, k: string, min = 0): number | undefined {
  const v = optString(ctx.options, k);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${k} must be a whole number of at least ${min}, got "${v}"`);
  return Number(v);
}

function time(ctx: CommandContext, k: string): number | undefined {
  const v = optString(ctx.options, k);
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`--${k} must be an RFC 3339 time (2026-01-02T15:04:05Z) or unix seconds, got "${v}"`);
  return ms;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const eventJson = (e: AuditEventRecord__Output) => ({ index: e.index, leaf_hash: b64(e.leaf_hash), event: JSON.parse(Buffer.from(e.data).toString('utf8')) as unknown });
const eventTable = (es: AuditEventRecord__Output[]) => formatTable(['INDEX', 'TIME', 'TYPE', 'ACTOR', 'SUBJECT', 'INSTANCE'],
  es.map((e) => [e.index, new Date(e.time_ms).toISOString(), e.type, e.actor || '-', e.subject || '-', e.instance || '-']));
const checkpointJson = (c: AuditCheckpoint__Output) => ({ size: c.size, root: b64(c.root), origin: c.origin, verifier_key: c.verifier_key, time: new Date(c.time_ms).toISOString(), note: c.note });
const proofJson = (p: AuditProof__Output, kind: 'inclusion' | 'consistency') => kind === 'inclusion'
  ? { index: p.index, tree_size: p.tree_size, leaf_hash: b64(p.leaf_hash), leaf: b64(p.leaf), hashes: p.hashes.map(b64), checkpoint: p.checkpoint }
  : { from_size: p.from_size, tree_size: p.tree_size, hashes: p.hashes.map(b64), checkpoint: p.checkpoint, from_checkpoint: p.from_checkpoint };

const FILTERS = {
  type: { type: 'string' as const, value: 'TYPE', description: 'event type, e.g. x509svid.issued, agent.action, agent.attested' },
  actor: { type: 'string' as const, value: 'SPIFFE_ID', description: 'the agent or workload that acted' },
  subject: { type: 'string' as const, value: 'USER', description: 'the user acted for (delegated subject)' },
  instance: { type: 'string' as const, value: 'INSTANCE_ID', description: 'agent_instance_id' },
  since: { type: 'string' as const, value: 'TIME', description: 'from this time (RFC 3339 or unix seconds)' },
  until: { type: 'string' as const, value: 'TIME', description: 'before this time' },
  limit: { type: 'string' as const, value: 'N', description: 'at most N events (default 100, at most 10000)' },
};

async function list(ctx: CommandContext, req: Record<string, unknown>): Promise<void> {
  await withAudit(ctx, async (c) => {
    const res = await call<unknown, ListAuditEventsResponse__Output>(c, 'ListAuditEvents', req);
    ctx.print(res.events.map(eventJson), () => (res.events.length ? eventTable(res.events) : 'no audit events'));
  });
}

export const auditCommands: Command[] = [
  {
    name: 'audit tail', summary: 'the newest audit events (newest first)', options: { limit: FILTERS.limit, ...SOCKET_OPTIONS },
    async run(ctx) { await list(ctx, { limit: whole(ctx, 'limit', 1) ?? 20 }); },
  },
  {
    name: 'audit query', summary: 'audit events by user, actor, instance, type and time',
    options: { ...FILTERS, from: { type: 'string', value: 'INDEX', description: 'oldest first, starting at this index' }, ...SOCKET_OPTIONS },
    details: 'Example: tessera-server audit query --subject alice --type agent.action --since 2026-01-01T00:00:00Z --output json',
    async run(ctx) {
      const from = whole(ctx, 'from');
      await list(ctx, {
        type: optString(ctx.options, 'type') ?? '', actor: optString(ctx.options, 'actor') ?? '', subject: optString(ctx.options, 'subject') ?? '',
        instance: optString(ctx.options, 'instance') ?? '', since_ms: time(ctx, 'since') ?? 0, until_ms: time(ctx, 'until') ?? 0,
        oldest_first: from !== undefined, from_index: from ?? 0, limit: whole(ctx, 'limit', 1) ?? 100,
      });
    },
  },
  {
    name: 'audit checkpoint', summary: 'the newest signed checkpoint (C2SP tlog-checkpoint note)',
    options: { create: { type: 'boolean', description: 'sign a checkpoint of everything written so far first' }, ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAudit(ctx, async (c) => {
        const cp = await call<unknown, AuditCheckpoint__Output>(c, 'GetAuditCheckpoint', { create: ctx.options.create === true });
        ctx.print(checkpointJson(cp), () => `${cp.note}\nverifier key: ${cp.verifier_key}`);
      });
    },
  },
  {
    name: 'audit prove', summary: 'inclusion proof of one entry against a signed checkpoint',
    options: {
      index: { type: 'string', value: 'N', description: 'the entry (leaf index)' },
      size: { type: 'string', value: 'SIZE', description: 'tree size of the checkpoint (default: the newest)' }, ...SOCKET_OPTIONS,
    },
    details: 'Verify offline: tessera-server audit prove --index 7 --output json > p.json; tessera-audit verify-proof p.json --key-file audit-key.pub',
    async run(ctx) {
      const index = whole(ctx, 'index');
      if (index === undefined) throw new UsageError('--index is required');
      await withAudit(ctx, async (c) => {
        const p = await call<unknown, AuditProof__Output>(c, 'ProveAuditInclusion', { index, tree_size: whole(ctx, 'size', 1) ?? 0 });
        const j = proofJson(p, 'inclusion');
        ctx.print(j, () => [`entry ${p.index} in tree of size ${p.tree_size}`, `leaf hash: ${j.leaf_hash}`, ...j.hashes.map((h, i) => `  [${i}] ${h}`), '', p.checkpoint].join('\n'));
      });
    },
  },
  {
    name: 'audit consistency', summary: 'consistency proof from an older tree size to a signed checkpoint',
    options: {
      from: { type: 'string', value: 'SIZE', description: 'the older tree size' },
      to: { type: 'string', value: 'SIZE', description: 'the newer checkpoint size (default: the newest)' }, ...SOCKET_OPTIONS,
    },
    async run(ctx) {
      const from = whole(ctx, 'from', 1);
      if (from === undefined) throw new UsageError('--from is required');
      await withAudit(ctx, async (c) => {
        const p = await call<unknown, AuditProof__Output>(c, 'ProveAuditConsistency', { from_size: from, to_size: whole(ctx, 'to', 1) ?? 0 });
        const j = proofJson(p, 'consistency');
        ctx.print(j, () => [`tree of size ${p.tree_size} extends size ${p.from_size}`, ...j.hashes.map((h, i) => `  [${i}] ${h}`), '', p.checkpoint].join('\n'));
      });
    },
  },
  {
    name: 'audit export', summary: 'export the log (JSON Lines) for the offline verifier, tessera-audit verify', output: false,
    options: {
      out: { type: 'string', value: 'FILE', description: 'write here (default: stdout)' },
      size: { type: 'string', value: 'SIZE', description: 'only the first SIZE entries (default: all)' }, ...SOCKET_OPTIONS,
    },
    async run(ctx) {
      const path = optString(ctx.options, 'out');
      const size = whole(ctx, 'size', 1) ?? 0;
      await withAudit(ctx, (c) => new Promise<void>((resolve, reject) => {
        const out = path ? createWriteStream(path, { mode: 0o600 }) : process.stdout;
        const stream = c.ExportAudit({ to_size: size });
        stream.on('data', (m: AuditExportChunk__Output) => { if (!out.write(m.data)) { stream.pause(); out.once('drain', () => stream.resume()); } });
        stream.on('error', reject);
        stream.on('end', () => (path ? (out as ReturnType<typeof createWriteStream>).end(() => resolve()) : resolve()));
      }));
    },
  },
];
