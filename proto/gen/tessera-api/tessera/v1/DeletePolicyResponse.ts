// Original file: proto/tessera/admin.proto


export interface DeletePolicyResponse {
  'id'?: (string);
}

export interface DeletePolicyResponse__Output {
  'id': (string);
}
