// Original file: proto/tessera/admin.proto

import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';
import type { Long } from '@grpc/proto-loader';

export interface AdminMintX509SVIDResponse {
  'cert_chain'?: (Buffer | Uint8Array | string)[];
  'expires_at'?: (number | string | Long);
  'bundle'?: (_tessera_v1_Bundle | null);
}

export interface AdminMintX509SVIDResponse__Output {
  'cert_chain': (Buffer)[];
  'expires_at': (number);
  'bundle': (_tessera_v1_Bundle__Output | null);
}
