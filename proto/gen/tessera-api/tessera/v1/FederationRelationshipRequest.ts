// Original file: proto/tessera/admin.proto


export interface FederationRelationshipRequest {
  'trust_domain'?: (string);
}

export interface FederationRelationshipRequest__Output {
  'trust_domain': (string);
}
