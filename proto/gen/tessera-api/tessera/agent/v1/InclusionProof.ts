// Original file: proto/tessera/audit.proto

import type { Long } from '@grpc/proto-loader';

export interface InclusionProof {
  'index'?: (number | string | Long);
  'tree_size'?: (number | string | Long);
  'leaf_hash'?: (Buffer | Uint8Array | string);
  'hashes'?: (Buffer | Uint8Array | string)[];
  'checkpoint'?: (string);
}

export interface InclusionProof__Output {
  'index': (number);
  'tree_size': (number);
  'leaf_hash': (Buffer);
  'hashes': (Buffer)[];
  'checkpoint': (string);
}
