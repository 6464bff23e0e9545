// Original file: proto/tessera/admin.proto


export interface RevokeRequest {
  'kind'?: (string);
  'value'?: (string);
}

export interface RevokeRequest__Output {
  'kind': (string);
  'value': (string);
}
