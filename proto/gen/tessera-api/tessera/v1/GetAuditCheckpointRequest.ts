// Original file: proto/tessera/admin.proto


export interface GetAuditCheckpointRequest {
  'create'?: (boolean);
}

export interface GetAuditCheckpointRequest__Output {
  'create': (boolean);
}
