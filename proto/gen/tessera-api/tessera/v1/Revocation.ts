// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface Revocation {
  'seq'?: (number | string | Long);
  'kind'?: (string);
  'value'?: (string);
  'at'?: (number | string | Long);
  'expires_at'?: (number | string | Long);
  'by'?: (string);
}

export interface Revocation__Output {
  'seq': (number);
  'kind': (string);
  'value': (string);
  'at': (number);
  'expires_at': (number);
  'by': (string);
}
