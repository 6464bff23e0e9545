// Original file: proto/tessera/admin.proto


export interface AuditExportChunk {
  'data'?: (Buffer | Uint8Array | string);
}

export interface AuditExportChunk__Output {
  'data': (Buffer);
}
