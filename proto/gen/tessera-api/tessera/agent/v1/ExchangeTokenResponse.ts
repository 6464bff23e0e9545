// Original file: proto/tessera/delegation.proto


export interface ExchangeTokenResponse {
  'access_token'?: (string);
  'issued_token_type'?: (string);
  'token_type'?: (string);
  'expires_in'?: (number);
  'scope'?: (string);
  'spiffe_id'?: (string);
}

export interface ExchangeTokenResponse__Output {
  'access_token': (string);
  'issued_token_type': (string);
  'token_type': (string);
  'expires_in': (number);
  'scope': (string);
  'spiffe_id': (string);
}
