// Original file: proto/tessera/admin.proto

import type { EntryResult as _tessera_v1_EntryResult, EntryResult__Output as _tessera_v1_EntryResult__Output } from '../../tessera/v1/EntryResult';

export interface BatchEntryResponse {
  'results'?: (_tessera_v1_EntryResult)[];
}

export interface BatchEntryResponse__Output {
  'results': (_tessera_v1_EntryResult__Output)[];
}
