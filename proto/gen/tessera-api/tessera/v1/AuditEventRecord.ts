// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface AuditEventRecord {
  'index'?: (number | string | Long);
  'time_ms'?: (number | string | Long);
  'type'?: (string);
  'actor'?: (string);
  'subject'?: (string);
  'instance'?: (string);
  'data'?: (Buffer | Uint8Array | string);
  'leaf_hash'?: (Buffer | Uint8Array | string);
}

export interface AuditEventRecord__Output {
  'index': (number);
  'time_ms': (number);
  'type': (string);
  'actor': (string);
  'subject': (string);
  'instance': (string);
  'data': (Buffer);
  'leaf_hash': (Buffer);
}
