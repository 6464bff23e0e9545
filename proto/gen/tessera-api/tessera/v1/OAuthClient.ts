// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface OAuthClient {
  'client_id'?: (string);
  'name'?: (string);
  'redirect_uris'?: (string)[];
  'auth_method'?: (string);
  'registered_by'?: (string);
  'created_at'?: (number | string | Long);
}

export interface OAuthClient__Output {
  'client_id': (string);
  'name': (string);
  'redirect_uris': (string)[];
  'auth_method': (string);
  'registered_by': (string);
  'created_at': (number);
}
