// Original file: proto/tessera/admin.proto

import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';

export interface ListFederatedBundlesResponse {
  'bundles'?: (_tessera_v1_Bundle)[];
}

export interface ListFederatedBundlesResponse__Output {
  'bundles': (_tessera_v1_Bundle__Output)[];
}
