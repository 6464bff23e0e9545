// Original file: proto/tessera/admin.proto


export interface AgentIdRequest {
  'spiffe_id'?: (string);
}

export interface AgentIdRequest__Output {
  'spiffe_id': (string);
}
