import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AuditClient as _tessera_agent_v1_AuditClient, AuditDefinition as _tessera_agent_v1_AuditDefinition } from './tessera/agent/v1/Audit';
import type { InclusionProof as _tessera_agent_v1_InclusionProof, InclusionProof__Output as _tessera_agent_v1_InclusionProof__Output } from './tessera/agent/v1/InclusionProof';
import type { RecordActionRequest as _tessera_agent_v1_RecordActionRequest, RecordActionRequest__Output as _tessera_agent_v1_RecordActionRequest__Output } from './tessera/agent/v1/RecordActionRequest';
import type { RecordActionResponse as _tessera_agent_v1_RecordActionResponse, RecordActionResponse__Output as _tessera_agent_v1_RecordActionResponse__Output } from './tessera/agent/v1/RecordActionResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    agent: {
      v1: {
        Audit: SubtypeConstructor<typeof grpc.Client, _tessera_agent_v1_AuditClient> & { service: _tessera_agent_v1_AuditDefinition }
        InclusionProof: MessageTypeDefinition<_tessera_agent_v1_InclusionProof, _tessera_agent_v1_InclusionProof__Output>
        RecordActionRequest: MessageTypeDefinition<_tessera_agent_v1_RecordActionRequest, _tessera_agent_v1_RecordActionRequest__Output>
        RecordActionResponse: MessageTypeDefinition<_tessera_agent_v1_RecordActionResponse, _tessera_agent_v1_RecordActionResponse__Output>
      }
    }
  }
}

