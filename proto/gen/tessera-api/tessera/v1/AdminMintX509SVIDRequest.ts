// Original file: proto/tessera/admin.proto


export interface AdminMintX509SVIDRequest {
  'csr'?: (Buffer | Uint8Array | string);
  'spiffe_id'?: (string);
  'ttl'?: (number);
  'dns_names'?: (string)[];
}

export interface AdminMintX509SVIDRequest__Output {
  'csr': (Buffer);
  'spiffe_id': (string);
  'ttl': (number);
  'dns_names': (string)[];
}
