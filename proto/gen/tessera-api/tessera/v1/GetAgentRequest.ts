// Original file: proto/tessera/admin.proto


export interface GetAgentRequest {
  'spiffe_id'?: (string);
}

export interface GetAgentRequest__Output {
  'spiffe_id': (string);
}
