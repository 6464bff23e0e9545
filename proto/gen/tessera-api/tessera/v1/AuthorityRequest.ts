// Original file: proto/tessera/admin.proto


export interface AuthorityRequest {
  'kind'?: (string);
  'authority_id'?: (string);
}

export interface AuthorityRequest__Output {
  'kind': (string);
  'authority_id': (string);
}
