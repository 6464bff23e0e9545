import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Agent as _tessera_v1_Agent, Agent__Output as _tessera_v1_Agent__Output } from './tessera/v1/Agent';
import type { AgentMetadata as _tessera_v1_AgentMetadata, AgentMetadata__Output as _tessera_v1_AgentMetadata__Output } from './tessera/v1/AgentMetadata';
import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from './tessera/v1/Bundle';
import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from './tessera/v1/Entry';
import type { JWTKey as _tessera_v1_JWTKey, JWTKey__Output as _tessera_v1_JWTKey__Output } from './tessera/v1/JWTKey';
import type { Selector as _tessera_v1_Selector, Selector__Output as _tessera_v1_Selector__Output } from './tessera/v1/Selector';
import type { Status as _tessera_v1_Status, Status__Output as _tessera_v1_Status__Output } from './tessera/v1/Status';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      Agent: MessageTypeDefinition<_tessera_v1_Agent, _tessera_v1_Agent__Output>
      AgentMetadata: MessageTypeDefinition<_tessera_v1_AgentMetadata, _tessera_v1_AgentMetadata__Output>
      Bundle: MessageTypeDefinition<_tessera_v1_Bundle, _tessera_v1_Bundle__Output>
      Entry: MessageTypeDefinition<_tessera_v1_Entry, _tessera_v1_Entry__Output>
      JWTKey: MessageTypeDefinition<_tessera_v1_JWTKey, _tessera_v1_JWTKey__Output>
      Selector: MessageTypeDefinition<_tessera_v1_Selector, _tessera_v1_Selector__Output>
      Status: MessageTypeDefinition<_tessera_v1_Status, _tessera_v1_Status__Output>
    }
  }
}

