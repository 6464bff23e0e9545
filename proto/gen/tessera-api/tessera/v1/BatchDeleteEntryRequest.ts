// Original file: proto/tessera/admin.proto


export interface BatchDeleteEntryRequest {
  'ids'?: (string)[];
}

export interface BatchDeleteEntryRequest__Output {
  'ids': (string)[];
}
