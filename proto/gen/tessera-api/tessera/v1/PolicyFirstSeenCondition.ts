// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface PolicyFirstSeenCondition {
  'property'?: (string);
  'amount_property'?: (string);
  'max_amount'?: (number | string);
  'remember'?: (number | string | Long);
}

export interface PolicyFirstSeenCondition__Output {
  'property': (string);
  'amount_property': (string);
  'max_amount': (number);
  'remember': (number);
}
