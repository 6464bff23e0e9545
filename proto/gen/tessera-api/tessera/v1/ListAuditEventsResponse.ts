// Original file: proto/tessera/admin.proto

import type { AuditEventRecord as _tessera_v1_AuditEventRecord, AuditEventRecord__Output as _tessera_v1_AuditEventRecord__Output } from '../../tessera/v1/AuditEventRecord';

export interface ListAuditEventsResponse {
  'events'?: (_tessera_v1_AuditEventRecord)[];
}

export interface ListAuditEventsResponse__Output {
  'events': (_tessera_v1_AuditEventRecord__Output)[];
}
