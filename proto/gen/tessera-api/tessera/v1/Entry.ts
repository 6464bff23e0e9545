// Original file: proto/tessera/types.proto

import type { Selector as _tessera_v1_Selector, Selector__Output as _tessera_v1_Selector__Output } from '../../tessera/v1/Selector';
import type { AgentMetadata as _tessera_v1_AgentMetadata, AgentMetadata__Output as _tessera_v1_AgentMetadata__Output } from '../../tessera/v1/AgentMetadata';
import type { Long } from '@grpc/proto-loader';

export interface Entry {
  'id'?: (string);
  'spiffe_id'?: (string);
  'parent_id'?: (string);
  'selectors'?: (_tessera_v1_Selector)[];
  'x509_svid_ttl'?: (number);
  'jwt_svid_ttl'?: (number);
  'dns_names'?: (string)[];
  'hint'?: (string);
  'admin'?: (boolean);
  'downstream'?: (boolean);
  'federates_with'?: (string)[];
  'expires_at'?: (number | string | Long);
  'revision'?: (number | string | Long);
  'agent'?: (_tessera_v1_AgentMetadata | null);
  'created_at'?: (number | string | Long);
}

export interface Entry__Output {
  'id': (string);
  'spiffe_id': (string);
  'parent_id': (string);
  'selectors': (_tessera_v1_Selector__Output)[];
  'x509_svid_ttl': (number);
  'jwt_svid_ttl': (number);
  'dns_names': (string)[];
  'hint': (string);
  'admin': (boolean);
  'downstream': (boolean);
  'federates_with': (string)[];
  'expires_at': (number);
  'revision': (number);
  'agent': (_tessera_v1_AgentMetadata__Output | null);
  'created_at': (number);
}
