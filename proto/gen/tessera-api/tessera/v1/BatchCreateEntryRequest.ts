// Original file: proto/tessera/admin.proto

import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from '../../tessera/v1/Entry';

export interface BatchCreateEntryRequest {
  'entries'?: (_tessera_v1_Entry)[];
}

export interface BatchCreateEntryRequest__Output {
  'entries': (_tessera_v1_Entry__Output)[];
}
