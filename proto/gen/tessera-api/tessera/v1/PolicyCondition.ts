// Original file: proto/tessera/admin.proto

import type { PolicyRateCondition as _tessera_v1_PolicyRateCondition, PolicyRateCondition__Output as _tessera_v1_PolicyRateCondition__Output } from '../../tessera/v1/PolicyRateCondition';
import type { PolicyAmountCondition as _tessera_v1_PolicyAmountCondition, PolicyAmountCondition__Output as _tessera_v1_PolicyAmountCondition__Output } from '../../tessera/v1/PolicyAmountCondition';
import type { PolicyFirstSeenCondition as _tessera_v1_PolicyFirstSeenCondition, PolicyFirstSeenCondition__Output as _tessera_v1_PolicyFirstSeenCondition__Output } from '../../tessera/v1/PolicyFirstSeenCondition';

export interface PolicyCondition {
  'action'?: (string);
  'rate'?: (_tessera_v1_PolicyRateCondition | null);
  'amount'?: (_tessera_v1_PolicyAmountCondition | null);
  'first_seen'?: (_tessera_v1_PolicyFirstSeenCondition | null);
}

export interface PolicyCondition__Output {
  'action': (string);
  'rate': (_tessera_v1_PolicyRateCondition__Output | null);
  'amount': (_tessera_v1_PolicyAmountCondition__Output | null);
  'first_seen': (_tessera_v1_PolicyFirstSeenCondition__Output | null);
}
