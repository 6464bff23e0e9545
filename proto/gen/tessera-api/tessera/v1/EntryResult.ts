// Original file: proto/tessera/admin.proto

import type { Status as _tessera_v1_Status, Status__Output as _tessera_v1_Status__Output } from '../../tessera/v1/Status';
import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from '../../tessera/v1/Entry';

export interface EntryResult {
  'status'?: (_tessera_v1_Status | null);
  'entry'?: (_tessera_v1_Entry | null);
}

export interface EntryResult__Output {
  'status': (_tessera_v1_Status__Output | null);
  'entry': (_tessera_v1_Entry__Output | null);
}
