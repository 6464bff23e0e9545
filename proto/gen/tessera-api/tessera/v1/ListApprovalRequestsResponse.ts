// Original file: proto/tessera/admin.proto

import type { ApprovalRequest as _tessera_v1_ApprovalRequest, ApprovalRequest__Output as _tessera_v1_ApprovalRequest__Output } from '../../tessera/v1/ApprovalRequest';

export interface ListApprovalRequestsResponse {
  'requests'?: (_tessera_v1_ApprovalRequest)[];
}

export interface ListApprovalRequestsResponse__Output {
  'requests': (_tessera_v1_ApprovalRequest__Output)[];
}
