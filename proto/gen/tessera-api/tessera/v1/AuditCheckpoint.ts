// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface AuditCheckpoint {
  'size'?: (number | string | Long);
  'root'?: (Buffer | Uint8Array | string);
  'note'?: (string);
  'time_ms'?: (number | string | Long);
  'origin'?: (string);
  'verifier_key'?: (string);
}

export interface AuditCheckpoint__Output {
  'size': (number);
  'root': (Buffer);
  'note': (string);
  'time_ms': (number);
  'origin': (string);
  'verifier_key': (string);
}
