// Original file: proto/tessera/agent.proto

import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';
import type { Selector as _tessera_v1_Selector, Selector__Output as _tessera_v1_Selector__Output } from '../../tessera/v1/Selector';

export interface AttestResult {
  'spiffe_id'?: (string);
  'svid_chain'?: (Buffer | Uint8Array | string)[];
  'bundle'?: (_tessera_v1_Bundle | null);
  'selectors'?: (_tessera_v1_Selector)[];
}

export interface AttestResult__Output {
  'spiffe_id': (string);
  'svid_chain': (Buffer)[];
  'bundle': (_tessera_v1_Bundle__Output | null);
  'selectors': (_tessera_v1_Selector__Output)[];
}
