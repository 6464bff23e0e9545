// Original file: proto/tessera/admin.proto

import type { AuthorityState as _tessera_v1_AuthorityState, AuthorityState__Output as _tessera_v1_AuthorityState__Output } from '../../tessera/v1/AuthorityState';

export interface AuthorityStateResponse {
  'authorities'?: (_tessera_v1_AuthorityState)[];
}

export interface AuthorityStateResponse__Output {
  'authorities': (_tessera_v1_AuthorityState__Output)[];
}
