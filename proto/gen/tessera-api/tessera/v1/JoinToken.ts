// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface JoinToken {
  'token'?: (string);
  'expires_at'?: (number | string | Long);
}

export interface JoinToken__Output {
  'token': (string);
  'expires_at': (number);
}
