// Original file: proto/tessera/admin.proto


export interface ListApprovalRequestsRequest {
  'subject'?: (string);
  'pending'?: (boolean);
}

export interface ListApprovalRequestsRequest__Output {
  'subject': (string);
  'pending': (boolean);
}
