// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface AuditProof {
  'index'?: (number | string | Long);
  'leaf_hash'?: (Buffer | Uint8Array | string);
  'leaf'?: (Buffer | Uint8Array | string);
  'from_size'?: (number | string | Long);
  'tree_size'?: (number | string | Long);
  'hashes'?: (Buffer | Uint8Array | string)[];
  'checkpoint'?: (string);
  'from_checkpoint'?: (string);
}

export interface AuditProof__Output {
  'index': (number);
  'leaf_hash': (Buffer);
  'leaf': (Buffer);
  'from_size': (number);
  'tree_size': (number);
  'hashes': (Buffer)[];
  'checkpoint': (string);
  'from_checkpoint': (string);
}
