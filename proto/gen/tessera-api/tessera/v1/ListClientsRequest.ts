// Original file: proto/tessera/admin.proto


export interface ListClientsRequest {
}

export interface ListClientsRequest__Output {
}
