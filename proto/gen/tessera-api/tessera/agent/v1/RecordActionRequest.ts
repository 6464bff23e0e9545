// Original file: proto/tessera/audit.proto


export interface RecordActionRequest {
  'subject'?: (string);
  'tool'?: (string);
  'action'?: (string);
  'arguments_digest'?: (Buffer | Uint8Array | string);
  'result_digest'?: (Buffer | Uint8Array | string);
  'decision'?: (string);
  'correlation_id'?: (string);
  'spiffe_id'?: (string);
  'jws'?: (string);
  'wait'?: (boolean);
  'wait_timeout_ms'?: (number);
}

export interface RecordActionRequest__Output {
  'subject': (string);
  'tool': (string);
  'action': (string);
  'arguments_digest': (Buffer);
  'result_digest': (Buffer);
  'decision': (string);
  'correlation_id': (string);
  'spiffe_id': (string);
  'jws': (string);
  'wait': (boolean);
  'wait_timeout_ms': (number);
}
