// Original file: proto/tessera/agent.proto

import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';

export interface FederatedBundles {
  'bundles'?: (_tessera_v1_Bundle)[];
}

export interface FederatedBundles__Output {
  'bundles': (_tessera_v1_Bundle__Output)[];
}
