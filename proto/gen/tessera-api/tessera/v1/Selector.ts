// Original file: proto/tessera/types.proto


export interface Selector {
  'type'?: (string);
  'value'?: (string);
}

export interface Selector__Output {
  'type': (string);
  'value': (string);
}
