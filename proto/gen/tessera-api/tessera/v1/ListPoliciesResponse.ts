// Original file: proto/tessera/admin.proto

import type { DelegationPolicy as _tessera_v1_DelegationPolicy, DelegationPolicy__Output as _tessera_v1_DelegationPolicy__Output } from '../../tessera/v1/DelegationPolicy';

export interface ListPoliciesResponse {
  'policies'?: (_tessera_v1_DelegationPolicy)[];
}

export interface ListPoliciesResponse__Output {
  'policies': (_tessera_v1_DelegationPolicy__Output)[];
}
