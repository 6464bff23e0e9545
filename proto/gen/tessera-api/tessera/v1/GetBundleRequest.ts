// Original file: proto/tessera/agent.proto


export interface GetBundleRequest {
}

export interface GetBundleRequest__Output {
}
