// Original file: proto/tessera/admin.proto

import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';
import type { FederationStatus as _tessera_v1_FederationStatus, FederationStatus__Output as _tessera_v1_FederationStatus__Output } from '../../tessera/v1/FederationStatus';
import type { Long } from '@grpc/proto-loader';

export interface FederationRelationship {
  'trust_domain'?: (string);
  'bundle_endpoint_url'?: (string);
  'bundle_endpoint_profile'?: (string);
  'endpoint_spiffe_id'?: (string);
  'trust_domain_bundle'?: (_tessera_v1_Bundle | null);
  'source'?: (string);
  'status'?: (_tessera_v1_FederationStatus | null);
  'created_at'?: (number | string | Long);
  'updated_at'?: (number | string | Long);
}

export interface FederationRelationship__Output {
  'trust_domain': (string);
  'bundle_endpoint_url': (string);
  'bundle_endpoint_profile': (string);
  'endpoint_spiffe_id': (string);
  'trust_domain_bundle': (_tessera_v1_Bundle__Output | null);
  'source': (string);
  'status': (_tessera_v1_FederationStatus__Output | null);
  'created_at': (number);
  'updated_at': (number);
}
