// Original file: proto/tessera/admin.proto


export interface DeleteFederationRelationshipRequest {
  'trust_domain'?: (string);
  'keep_bundle'?: (boolean);
}

export interface DeleteFederationRelationshipRequest__Output {
  'trust_domain': (string);
  'keep_bundle': (boolean);
}
