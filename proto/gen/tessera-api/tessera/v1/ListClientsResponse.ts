// Original file: proto/tessera/admin.proto

import type { OAuthClient as _tessera_v1_OAuthClient, OAuthClient__Output as _tessera_v1_OAuthClient__Output } from '../../tessera/v1/OAuthClient';

export interface ListClientsResponse {
  'clients'?: (_tessera_v1_OAuthClient)[];
}

export interface ListClientsResponse__Output {
  'clients': (_tessera_v1_OAuthClient__Output)[];
}
