// Original file: proto/tessera/agent.proto


export interface SVIDParams {
  'entry_id'?: (string);
  'csr'?: (Buffer | Uint8Array | string);
  'instance_id'?: (string);
}

export interface SVIDParams__Output {
  'entry_id': (string);
  'csr': (Buffer);
  'instance_id': (string);
}
