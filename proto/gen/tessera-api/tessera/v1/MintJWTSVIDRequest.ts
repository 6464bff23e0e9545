// Original file: proto/tessera/agent.proto


export interface MintJWTSVIDRequest {
  'entry_id'?: (string);
  'audience'?: (string)[];
  'instance_id'?: (string);
}

export interface MintJWTSVIDRequest__Output {
  'entry_id': (string);
  'audience': (string)[];
  'instance_id': (string);
}
