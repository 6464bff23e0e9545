// Original file: proto/tessera/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface AgentRecordActionResponse {
  'index'?: (number | string | Long);
  'leaf'?: (Buffer | Uint8Array | string);
  'tree_size'?: (number | string | Long);
  'proof'?: (Buffer | Uint8Array | string)[];
  'checkpoint'?: (string);
}

export interface AgentRecordActionResponse__Output {
  'index': (number);
  'leaf': (Buffer);
  'tree_size': (number);
  'proof': (Buffer)[];
  'checkpoint': (string);
}
