// Original file: proto/tessera/admin.proto


export interface ListFederationRelationshipsRequest {
}

export interface ListFederationRelationshipsRequest__Output {
}
