// Original file: proto/tessera/admin.proto


export interface DeleteFederationRelationshipResponse {
  'trust_domain'?: (string);
  'bundle_deleted'?: (boolean);
}

export interface DeleteFederationRelationshipResponse__Output {
  'trust_domain': (string);
  'bundle_deleted': (boolean);
}
