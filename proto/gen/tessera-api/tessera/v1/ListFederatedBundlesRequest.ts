// Original file: proto/tessera/admin.proto


export interface ListFederatedBundlesRequest {
}

export interface ListFederatedBundlesRequest__Output {
}
