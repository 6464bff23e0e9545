// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface CountResponse {
  'count'?: (number | string | Long);
}

export interface CountResponse__Output {
  'count': (number);
}
