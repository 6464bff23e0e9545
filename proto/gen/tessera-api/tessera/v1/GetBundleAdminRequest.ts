// Original file: proto/tessera/admin.proto


export interface GetBundleAdminRequest {
}

export interface GetBundleAdminRequest__Output {
}
