// Original file: proto/tessera/agent.proto

import type { Status as _tessera_v1_Status, Status__Output as _tessera_v1_Status__Output } from '../../tessera/v1/Status';
import type { Long } from '@grpc/proto-loader';

export interface X509SVIDResult {
  'status'?: (_tessera_v1_Status | null);
  'entry_id'?: (string);
  'cert_chain'?: (Buffer | Uint8Array | string)[];
  'expires_at'?: (number | string | Long);
}

export interface X509SVIDResult__Output {
  'status': (_tessera_v1_Status__Output | null);
  'entry_id': (string);
  'cert_chain': (Buffer)[];
  'expires_at': (number);
}
