// Original file: proto/tessera/admin.proto

import type { Revocation as _tessera_v1_Revocation, Revocation__Output as _tessera_v1_Revocation__Output } from '../../tessera/v1/Revocation';

export interface ListRevocationsResponse {
  'revocations'?: (_tessera_v1_Revocation)[];
}

export interface ListRevocationsResponse__Output {
  'revocations': (_tessera_v1_Revocation__Output)[];
}
