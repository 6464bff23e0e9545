// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ProveAuditInclusionRequest {
  'index'?: (number | string | Long);
  'tree_size'?: (number | string | Long);
}

export interface ProveAuditInclusionRequest__Output {
  'index': (number);
  'tree_size': (number);
}
