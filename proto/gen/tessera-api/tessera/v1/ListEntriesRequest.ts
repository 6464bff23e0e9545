// Original file: proto/tessera/admin.proto

import type { Selector as _tessera_v1_Selector, Selector__Output as _tessera_v1_Selector__Output } from '../../tessera/v1/Selector';

export interface ListEntriesRequest {
  'by_spiffe_id'?: (string);
  'by_parent_id'?: (string);
  'by_selectors'?: (_tessera_v1_Selector)[];
  'selector_match'?: (string);
  'by_hint'?: (string);
  'page_size'?: (number);
  'page_token'?: (string);
}

export interface ListEntriesRequest__Output {
  'by_spiffe_id': (string);
  'by_parent_id': (string);
  'by_selectors': (_tessera_v1_Selector__Output)[];
  'selector_match': (string);
  'by_hint': (string);
  'page_size': (number);
  'page_token': (string);
}
