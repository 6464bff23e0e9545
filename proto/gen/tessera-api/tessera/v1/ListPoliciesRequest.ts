// Original file: proto/tessera/admin.proto


export interface ListPoliciesRequest {
}

export interface ListPoliciesRequest__Output {
}
