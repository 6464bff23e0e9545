// Original file: proto/tessera/admin.proto


export interface ListAgentsRequest {
  'by_attestation_type'?: (string);
  'only_banned'?: (boolean);
}

export interface ListAgentsRequest__Output {
  'by_attestation_type': (string);
  'only_banned': (boolean);
}
