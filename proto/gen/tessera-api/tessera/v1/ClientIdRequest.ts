// Original file: proto/tessera/admin.proto


export interface ClientIdRequest {
  'client_id'?: (string);
}

export interface ClientIdRequest__Output {
  'client_id': (string);
}
