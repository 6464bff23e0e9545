// Original file: proto/tessera/admin.proto

import type { Status as _tessera_v1_Status, Status__Output as _tessera_v1_Status__Output } from '../../tessera/v1/Status';

export interface DeleteResult {
  'status'?: (_tessera_v1_Status | null);
  'id'?: (string);
}

export interface DeleteResult__Output {
  'status': (_tessera_v1_Status__Output | null);
  'id': (string);
}
