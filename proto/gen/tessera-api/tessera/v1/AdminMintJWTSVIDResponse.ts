// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface AdminMintJWTSVIDResponse {
  'token'?: (string);
  'expires_at'?: (number | string | Long);
}

export interface AdminMintJWTSVIDResponse__Output {
  'token': (string);
  'expires_at': (number);
}
