// Original file: proto/tessera/agent.proto


export interface AttestationParams {
  'method'?: (string);
  'payload'?: (Buffer | Uint8Array | string);
  'csr'?: (Buffer | Uint8Array | string);
}

export interface AttestationParams__Output {
  'method': (string);
  'payload': (Buffer);
  'csr': (Buffer);
}
