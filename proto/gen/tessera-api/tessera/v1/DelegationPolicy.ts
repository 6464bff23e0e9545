// Original file: proto/tessera/admin.proto

import type { PolicyApproval as _tessera_v1_PolicyApproval, PolicyApproval__Output as _tessera_v1_PolicyApproval__Output } from '../../tessera/v1/PolicyApproval';
import type { PolicyCondition as _tessera_v1_PolicyCondition, PolicyCondition__Output as _tessera_v1_PolicyCondition__Output } from '../../tessera/v1/PolicyCondition';
import type { Long } from '@grpc/proto-loader';

export interface DelegationPolicy {
  'id'?: (string);
  'description'?: (string);
  'actors'?: (string)[];
  'subject_issuer'?: (string);
  'subjects'?: (string)[];
  'groups'?: (string)[];
  'audiences'?: (string)[];
  'scopes'?: (string)[];
  'max_ttl'?: (number | string | Long);
  'max_depth'?: (number);
  'may_delegate_to'?: (string)[];
  'revision'?: (number | string | Long);
  'created_at'?: (number | string | Long);
  'budgets'?: ({[key: string]: number | string | Long});
  'approval'?: (_tessera_v1_PolicyApproval | null);
  'conditions'?: (_tessera_v1_PolicyCondition)[];
}

export interface DelegationPolicy__Output {
  'id': (string);
  'description': (string);
  'actors': (string)[];
  'subject_issuer': (string);
  'subjects': (string)[];
  'groups': (string)[];
  'audiences': (string)[];
  'scopes': (string)[];
  'max_ttl': (number);
  'max_depth': (number);
  'may_delegate_to': (string)[];
  'revision': (number);
  'created_at': (number);
  'budgets': ({[key: string]: number});
  'approval': (_tessera_v1_PolicyApproval__Output | null);
  'conditions': (_tessera_v1_PolicyCondition__Output)[];
}
