// Original file: proto/tessera/agent.proto


export interface MintWITSVIDRequest {
  'entry_id'?: (string);
  'public_key'?: (Buffer | Uint8Array | string);
  'alg'?: (string);
  'instance_id'?: (string);
}

export interface MintWITSVIDRequest__Output {
  'entry_id': (string);
  'public_key': (Buffer);
  'alg': (string);
  'instance_id': (string);
}
