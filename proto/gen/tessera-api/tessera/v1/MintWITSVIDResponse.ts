// Original file: proto/tessera/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface MintWITSVIDResponse {
  'token'?: (string);
  'expires_at'?: (number | string | Long);
}

export interface MintWITSVIDResponse__Output {
  'token': (string);
  'expires_at': (number);
}
