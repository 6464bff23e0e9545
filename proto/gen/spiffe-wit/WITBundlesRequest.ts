// Original file: proto/spiffe/workloadapiwitsvid.proto


export interface WITBundlesRequest {
}

export interface WITBundlesRequest__Output {
}
