// Original file: proto/tessera/admin.proto

import type { FederationRelationship as _tessera_v1_FederationRelationship, FederationRelationship__Output as _tessera_v1_FederationRelationship__Output } from '../../tessera/v1/FederationRelationship';

export interface ListFederationRelationshipsResponse {
  'relationships'?: (_tessera_v1_FederationRelationship)[];
}

export interface ListFederationRelationshipsResponse__Output {
  'relationships': (_tessera_v1_FederationRelationship__Output)[];
}
