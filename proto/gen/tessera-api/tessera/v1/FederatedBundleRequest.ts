// Original file: proto/tessera/admin.proto


export interface FederatedBundleRequest {
  'trust_domain'?: (string);
}

export interface FederatedBundleRequest__Output {
  'trust_domain': (string);
}
