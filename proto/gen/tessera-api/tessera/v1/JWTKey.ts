// Original file: proto/tessera/types.proto

import type { Long } from '@grpc/proto-loader';

export interface JWTKey {
  'key_id'?: (string);
  'public_key'?: (Buffer | Uint8Array | string);
  'expires_at'?: (number | string | Long);
}

export interface JWTKey__Output {
  'key_id': (string);
  'public_key': (Buffer);
  'expires_at': (number);
}
