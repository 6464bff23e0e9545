// Original file: proto/tessera/admin.proto

import type { DeleteResult as _tessera_v1_DeleteResult, DeleteResult__Output as _tessera_v1_DeleteResult__Output } from '../../tessera/v1/DeleteResult';

export interface BatchDeleteEntryResponse {
  'results'?: (_tessera_v1_DeleteResult)[];
}

export interface BatchDeleteEntryResponse__Output {
  'results': (_tessera_v1_DeleteResult__Output)[];
}
