// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ProveAuditConsistencyRequest {
  'from_size'?: (number | string | Long);
  'to_size'?: (number | string | Long);
}

export interface ProveAuditConsistencyRequest__Output {
  'from_size': (number);
  'to_size': (number);
}
