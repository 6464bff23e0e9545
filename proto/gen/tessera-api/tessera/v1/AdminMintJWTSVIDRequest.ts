// Original file: proto/tessera/admin.proto


export interface AdminMintJWTSVIDRequest {
  'spiffe_id'?: (string);
  'audience'?: (string)[];
  'ttl'?: (number);
}

export interface AdminMintJWTSVIDRequest__Output {
  'spiffe_id': (string);
  'audience': (string)[];
  'ttl': (number);
}
