// Original file: proto/tessera/delegation.proto


export interface ExchangeTokenRequest {
  'subject_token'?: (string);
  'subject_token_type'?: (string);
  'audience'?: (string)[];
  'resource'?: (string)[];
  'scope'?: (string);
  'expires_in'?: (number);
  'spiffe_id'?: (string);
  'requested_token_type'?: (string);
}

export interface ExchangeTokenRequest__Output {
  'subject_token': (string);
  'subject_token_type': (string);
  'audience': (string)[];
  'resource': (string)[];
  'scope': (string);
  'expires_in': (number);
  'spiffe_id': (string);
  'requested_token_type': (string);
}
