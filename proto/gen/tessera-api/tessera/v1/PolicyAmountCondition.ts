// Original file: proto/tessera/admin.proto


export interface PolicyAmountCondition {
  'property'?: (string);
  'max'?: (number | string);
}

export interface PolicyAmountCondition__Output {
  'property': (string);
  'max': (number);
}
