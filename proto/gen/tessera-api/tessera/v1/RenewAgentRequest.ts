// Original file: proto/tessera/agent.proto


export interface RenewAgentRequest {
  'csr'?: (Buffer | Uint8Array | string);
}

export interface RenewAgentRequest__Output {
  'csr': (Buffer);
}
