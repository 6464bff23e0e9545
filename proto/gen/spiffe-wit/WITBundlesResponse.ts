// Original file: proto/spiffe/workloadapiwitsvid.proto


export interface WITBundlesResponse {
  'bundles'?: ({[key: string]: string});
}

export interface WITBundlesResponse__Output {
  'bundles': ({[key: string]: string});
}
