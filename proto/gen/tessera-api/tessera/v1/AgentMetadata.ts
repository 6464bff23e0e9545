// Original file: proto/tessera/types.proto


export interface AgentMetadata {
  'agent_model'?: (string);
  'agent_provider'?: (string);
  'agent_version'?: (string);
}

export interface AgentMetadata__Output {
  'agent_model': (string);
  'agent_provider': (string);
  'agent_version': (string);
}
