// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface DelegationPolicy {
  'id'?: (string);
  'description'?: (string);
  'actors'?: (string)[];
  'subject_issuer'?: (string);
  'subjects'?: (string)[];
  'groups'?: (string)[];
  'audiences'?: (string)[];
  'scopes'?: (string)[];
  'max_ttl'?: (number | string | Long);
  'max_depth'?: (number);
  'may_delegate_to'?: (string)[];
  'revision'?: (number | string | Long);
  'created_at'?: (number | string | Long);
  'budgets'?: ({[key: string]: number | string | Long});
}

export interface DelegationPolicy__Output {
  'id': (string);
  'description': (string);
  'actors': (string)[];
  'subject_issuer': (string);
  'subjects': (string)[];
  'groups': (string)[];
  'audiences': (string)[];
  'scopes': (string)[];
  'max_ttl': (number);
  'max_depth': (number);
  'may_delegate_to': (string)[];
  'revision': (number);
  'created_at': (number);
  'budgets': ({[key: string]: number});
}
