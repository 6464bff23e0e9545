// Original file: proto/tessera/admin.proto


export interface DeleteClientResponse {
  'client_id'?: (string);
}

export interface DeleteClientResponse__Output {
  'client_id': (string);
}
