// Original file: proto/tessera/agent.proto


export interface RenewAgentResponse {
  'svid_chain'?: (Buffer | Uint8Array | string)[];
}

export interface RenewAgentResponse__Output {
  'svid_chain': (Buffer)[];
}
