// Original file: proto/tessera/admin.proto


export interface CreateJoinTokenRequest {
  'ttl'?: (number);
  'agent_id_hint'?: (string);
}

export interface CreateJoinTokenRequest__Output {
  'ttl': (number);
  'agent_id_hint': (string);
}
