// Original file: proto/tessera/admin.proto


export interface PolicyApproval {
  'scopes'?: (string)[];
  'approvers'?: (string)[];
}

export interface PolicyApproval__Output {
  'scopes': (string)[];
  'approvers': (string)[];
}
