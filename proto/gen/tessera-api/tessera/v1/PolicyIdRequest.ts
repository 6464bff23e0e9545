// Original file: proto/tessera/admin.proto


export interface PolicyIdRequest {
  'id'?: (string);
}

export interface PolicyIdRequest__Output {
  'id': (string);
}
