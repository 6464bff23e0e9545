import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { DelegationClient as _tessera_agent_v1_DelegationClient, DelegationDefinition as _tessera_agent_v1_DelegationDefinition } from './tessera/agent/v1/Delegation';
import type { ExchangeTokenRequest as _tessera_agent_v1_ExchangeTokenRequest, ExchangeTokenRequest__Output as _tessera_agent_v1_ExchangeTokenRequest__Output } from './tessera/agent/v1/ExchangeTokenRequest';
import type { ExchangeTokenResponse as _tessera_agent_v1_ExchangeTokenResponse, ExchangeTokenResponse__Output as _tessera_agent_v1_ExchangeTokenResponse__Output } from './tessera/agent/v1/ExchangeTokenResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    agent: {
      v1: {
        Delegation: SubtypeConstructor<typeof grpc.Client, _tessera_agent_v1_DelegationClient> & { service: _tessera_agent_v1_DelegationDefinition }
        ExchangeTokenRequest: MessageTypeDefinition<_tessera_agent_v1_ExchangeTokenRequest, _tessera_agent_v1_ExchangeTokenRequest__Output>
        ExchangeTokenResponse: MessageTypeDefinition<_tessera_agent_v1_ExchangeTokenResponse, _tessera_agent_v1_ExchangeTokenResponse__Output>
      }
    }
  }
}

