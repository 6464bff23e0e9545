// Original file: proto/tessera/audit.proto

import type { InclusionProof as _tessera_agent_v1_InclusionProof, InclusionProof__Output as _tessera_agent_v1_InclusionProof__Output } from '../../../tessera/agent/v1/InclusionProof';
import type { Long } from '@grpc/proto-loader';

export interface RecordActionResponse {
  'index'?: (number | string | Long);
  'leaf'?: (Buffer | Uint8Array | string);
  'proof'?: (_tessera_agent_v1_InclusionProof | null);
}

export interface RecordActionResponse__Output {
  'index': (number);
  'leaf': (Buffer);
  'proof': (_tessera_agent_v1_InclusionProof__Output | null);
}
