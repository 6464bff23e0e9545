// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface AuthorityState {
  'kind'?: (string);
  'authority_id'?: (string);
  'state'?: (string);
  'expires_at'?: (number | string | Long);
  'tainted'?: (boolean);
  'revoked'?: (boolean);
  'slot'?: (string);
}

export interface AuthorityState__Output {
  'kind': (string);
  'authority_id': (string);
  'state': (string);
  'expires_at': (number);
  'tainted': (boolean);
  'revoked': (boolean);
  'slot': (string);
}
