// Original file: proto/tessera/agent.proto

import type { AttestationParams as _tessera_v1_AttestationParams, AttestationParams__Output as _tessera_v1_AttestationParams__Output } from '../../tessera/v1/AttestationParams';

export interface AttestRequest {
  'params'?: (_tessera_v1_AttestationParams | null);
  'challenge_response'?: (Buffer | Uint8Array | string);
  'step'?: "params"|"challenge_response";
}

export interface AttestRequest__Output {
  'params'?: (_tessera_v1_AttestationParams__Output | null);
  'challenge_response'?: (Buffer);
  'step'?: "params"|"challenge_response";
}
