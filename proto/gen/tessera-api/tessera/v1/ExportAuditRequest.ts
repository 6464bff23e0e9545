// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ExportAuditRequest {
  'from_index'?: (number | string | Long);
  'to_size'?: (number | string | Long);
}

export interface ExportAuditRequest__Output {
  'from_index': (number);
  'to_size': (number);
}
