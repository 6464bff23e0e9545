// Original file: proto/tessera/agent.proto

import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from '../../tessera/v1/Entry';
import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';
import type { FederatedBundles as _tessera_v1_FederatedBundles, FederatedBundles__Output as _tessera_v1_FederatedBundles__Output } from '../../tessera/v1/FederatedBundles';
import type { Long } from '@grpc/proto-loader';

export interface SyncEntriesResponse {
  'full'?: (boolean);
  'upserted'?: (_tessera_v1_Entry)[];
  'deleted_ids'?: (string)[];
  'sequence'?: (number | string | Long);
  'bundle'?: (_tessera_v1_Bundle | null);
  'federated_bundles'?: (_tessera_v1_FederatedBundles | null);
}

export interface SyncEntriesResponse__Output {
  'full': (boolean);
  'upserted': (_tessera_v1_Entry__Output)[];
  'deleted_ids': (string)[];
  'sequence': (number);
  'bundle': (_tessera_v1_Bundle__Output | null);
  'federated_bundles': (_tessera_v1_FederatedBundles__Output | null);
}
