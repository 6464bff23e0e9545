// Original file: proto/tessera/agent.proto


export interface AgentRecordActionRequest {
  'spiffe_id'?: (string);
  'instance_id'?: (string);
  'pid'?: (number);
  'uid'?: (number);
  'subject'?: (string);
  'tool'?: (string);
  'action'?: (string);
  'arguments_digest'?: (Buffer | Uint8Array | string);
  'result_digest'?: (Buffer | Uint8Array | string);
  'decision'?: (string);
  'correlation_id'?: (string);
  'jws'?: (string);
  'wait'?: (boolean);
  'wait_timeout_ms'?: (number);
}

export interface AgentRecordActionRequest__Output {
  'spiffe_id': (string);
  'instance_id': (string);
  'pid': (number);
  'uid': (number);
  'subject': (string);
  'tool': (string);
  'action': (string);
  'arguments_digest': (Buffer);
  'result_digest': (Buffer);
  'decision': (string);
  'correlation_id': (string);
  'jws': (string);
  'wait': (boolean);
  'wait_timeout_ms': (number);
}
