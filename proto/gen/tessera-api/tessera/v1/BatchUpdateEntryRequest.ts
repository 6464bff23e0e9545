// Original file: proto/tessera/admin.proto

import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from '../../tessera/v1/Entry';

export interface BatchUpdateEntryRequest {
  'entries'?: (_tessera_v1_Entry)[];
}

export interface BatchUpdateEntryRequest__Output {
  'entries': (_tessera_v1_Entry__Output)[];
}
