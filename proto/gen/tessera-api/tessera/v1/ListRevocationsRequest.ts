// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ListRevocationsRequest {
  'after_seq'?: (number | string | Long);
  'include_expired'?: (boolean);
}

export interface ListRevocationsRequest__Output {
  'after_seq': (number);
  'include_expired': (boolean);
}
