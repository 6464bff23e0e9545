// Original file: proto/tessera/agent.proto

import type { AttestResult as _tessera_v1_AttestResult, AttestResult__Output as _tessera_v1_AttestResult__Output } from '../../tessera/v1/AttestResult';

export interface AttestResponse {
  'challenge'?: (Buffer | Uint8Array | string);
  'result'?: (_tessera_v1_AttestResult | null);
  'step'?: "challenge"|"result";
}

export interface AttestResponse__Output {
  'challenge'?: (Buffer);
  'result'?: (_tessera_v1_AttestResult__Output | null);
  'step'?: "challenge"|"result";
}
