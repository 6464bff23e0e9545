// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ListAuditEventsRequest {
  'type'?: (string);
  'actor'?: (string);
  'subject'?: (string);
  'instance'?: (string);
  'since_ms'?: (number | string | Long);
  'until_ms'?: (number | string | Long);
  'oldest_first'?: (boolean);
  'from_index'?: (number | string | Long);
  'limit'?: (number);
}

export interface ListAuditEventsRequest__Output {
  'type': (string);
  'actor': (string);
  'subject': (string);
  'instance': (string);
  'since_ms': (number);
  'until_ms': (number);
  'oldest_first': (boolean);
  'from_index': (number);
  'limit': (number);
}
