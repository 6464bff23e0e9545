// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface PolicyRateCondition {
  'max'?: (number | string | Long);
  'window'?: (number | string | Long);
}

export interface PolicyRateCondition__Output {
  'max': (number);
  'window': (number);
}
