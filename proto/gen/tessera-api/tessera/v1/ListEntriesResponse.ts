// Original file: proto/tessera/admin.proto

import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from '../../tessera/v1/Entry';

export interface ListEntriesResponse {
  'entries'?: (_tessera_v1_Entry)[];
  'next_page_token'?: (string);
}

export interface ListEntriesResponse__Output {
  'entries': (_tessera_v1_Entry__Output)[];
  'next_page_token': (string);
}
