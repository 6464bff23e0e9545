// Original file: proto/tessera/admin.proto


export interface EvictAgentResponse {
  'spiffe_id'?: (string);
}

export interface EvictAgentResponse__Output {
  'spiffe_id': (string);
}
