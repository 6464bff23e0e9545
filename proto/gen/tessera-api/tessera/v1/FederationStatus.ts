// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface FederationStatus {
  'last_attempt_at'?: (number | string | Long);
  'last_success_at'?: (number | string | Long);
  'last_error_code'?: (string);
  'last_error'?: (string);
  'next_refresh_at'?: (number | string | Long);
  'bundle_sequence'?: (number | string | Long);
  'refresh_hint'?: (number);
  'consecutive_failures'?: (number);
}

export interface FederationStatus__Output {
  'last_attempt_at': (number);
  'last_success_at': (number);
  'last_error_code': (string);
  'last_error': (string);
  'next_refresh_at': (number);
  'bundle_sequence': (number);
  'refresh_hint': (number);
  'consecutive_failures': (number);
}
