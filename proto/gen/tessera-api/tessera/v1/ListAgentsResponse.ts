// Original file: proto/tessera/admin.proto

import type { Agent as _tessera_v1_Agent, Agent__Output as _tessera_v1_Agent__Output } from '../../tessera/v1/Agent';

export interface ListAgentsResponse {
  'agents'?: (_tessera_v1_Agent)[];
}

export interface ListAgentsResponse__Output {
  'agents': (_tessera_v1_Agent__Output)[];
}
