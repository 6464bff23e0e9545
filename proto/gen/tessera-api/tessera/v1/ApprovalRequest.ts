// Original file: proto/tessera/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ApprovalRequest {
  'id'?: (string);
  'status'?: (string);
  'client_id'?: (string);
  'subject'?: (string);
  'approvers'?: (string)[];
  'scopes'?: (string)[];
  'escalated'?: (string)[];
  'audiences'?: (string)[];
  'policy'?: (string);
  'binding_message'?: (string);
  'created_at'?: (number | string | Long);
  'expires_at'?: (number | string | Long);
  'decided_at'?: (number | string | Long);
  'decided_by'?: (string);
}

export interface ApprovalRequest__Output {
  'id': (string);
  'status': (string);
  'client_id': (string);
  'subject': (string);
  'approvers': (string)[];
  'scopes': (string)[];
  'escalated': (string)[];
  'audiences': (string)[];
  'policy': (string);
  'binding_message': (string);
  'created_at': (number);
  'expires_at': (number);
  'decided_at': (number);
  'decided_by': (string);
}
