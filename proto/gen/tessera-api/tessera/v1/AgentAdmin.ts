// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Agent as _tessera_v1_Agent, Agent__Output as _tessera_v1_Agent__Output } from '../../tessera/v1/Agent';
import type { AgentIdRequest as _tessera_v1_AgentIdRequest, AgentIdRequest__Output as _tessera_v1_AgentIdRequest__Output } from '../../tessera/v1/AgentIdRequest';
import type { CountResponse as _tessera_v1_CountResponse, CountResponse__Output as _tessera_v1_CountResponse__Output } from '../../tessera/v1/CountResponse';
import type { CreateJoinTokenRequest as _tessera_v1_CreateJoinTokenRequest, CreateJoinTokenRequest__Output as _tessera_v1_CreateJoinTokenRequest__Output } from '../../tessera/v1/CreateJoinTokenRequest';
import type { EvictAgentResponse as _tessera_v1_EvictAgentResponse, EvictAgentResponse__Output as _tessera_v1_EvictAgentResponse__Output } from '../../tessera/v1/EvictAgentResponse';
import type { GetAgentRequest as _tessera_v1_GetAgentRequest, GetAgentRequest__Output as _tessera_v1_GetAgentRequest__Output } from '../../tessera/v1/GetAgentRequest';
import type { JoinToken as _tessera_v1_JoinToken, JoinToken__Output as _tessera_v1_JoinToken__Output } from '../../tessera/v1/JoinToken';
import type { ListAgentsRequest as _tessera_v1_ListAgentsRequest, ListAgentsRequest__Output as _tessera_v1_ListAgentsRequest__Output } from '../../tessera/v1/ListAgentsRequest';
import type { ListAgentsResponse as _tessera_v1_ListAgentsResponse, ListAgentsResponse__Output as _tessera_v1_ListAgentsResponse__Output } from '../../tessera/v1/ListAgentsResponse';

export interface AgentAdminClient extends grpc.Client {
  BanAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  BanAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  BanAgent(argument: _tessera_v1_AgentIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  BanAgent(argument: _tessera_v1_AgentIdRequest, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  banAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  banAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  banAgent(argument: _tessera_v1_AgentIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  banAgent(argument: _tessera_v1_AgentIdRequest, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  
  CountAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  CountAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  CountAgents(argument: _tessera_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  CountAgents(argument: _tessera_v1_ListAgentsRequest, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countAgents(argument: _tessera_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countAgents(argument: _tessera_v1_ListAgentsRequest, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  
  CreateJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tessera_v1_CreateJoinTokenRequest, callback: grpc.requestCallback<_tessera_v1_JoinToken__Output>): grpc.ClientUnaryCall;
  
  EvictAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  EvictAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  EvictAgent(argument: _tessera_v1_AgentIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  EvictAgent(argument: _tessera_v1_AgentIdRequest, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  evictAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  evictAgent(argument: _tessera_v1_AgentIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  evictAgent(argument: _tessera_v1_AgentIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  evictAgent(argument: _tessera_v1_AgentIdRequest, callback: grpc.requestCallback<_tessera_v1_EvictAgentResponse__Output>): grpc.ClientUnaryCall;
  
  GetAgent(argument: _tessera_v1_GetAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  GetAgent(argument: _tessera_v1_GetAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  GetAgent(argument: _tessera_v1_GetAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  GetAgent(argument: _tessera_v1_GetAgentRequest, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  getAgent(argument: _tessera_v1_GetAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  getAgent(argument: _tessera_v1_GetAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  getAgent(argument: _tessera_v1_GetAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  getAgent(argument: _tessera_v1_GetAgentRequest, callback: grpc.requestCallback<_tessera_v1_Agent__Output>): grpc.ClientUnaryCall;
  
  ListAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _tessera_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _tessera_v1_ListAgentsRequest, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _tessera_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _tessera_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _tessera_v1_ListAgentsRequest, callback: grpc.requestCallback<_tessera_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AgentAdminHandlers extends grpc.UntypedServiceImplementation {
  BanAgent: grpc.handleUnaryCall<_tessera_v1_AgentIdRequest__Output, _tessera_v1_Agent>;
  
  CountAgents: grpc.handleUnaryCall<_tessera_v1_ListAgentsRequest__Output, _tessera_v1_CountResponse>;
  
  CreateJoinToken: grpc.handleUnaryCall<_tessera_v1_CreateJoinTokenRequest__Output, _tessera_v1_JoinToken>;
  
  EvictAgent: grpc.handleUnaryCall<_tessera_v1_AgentIdRequest__Output, _tessera_v1_EvictAgentResponse>;
  
  GetAgent: grpc.handleUnaryCall<_tessera_v1_GetAgentRequest__Output, _tessera_v1_Agent>;
  
  ListAgents: grpc.handleUnaryCall<_tessera_v1_ListAgentsRequest__Output, _tessera_v1_ListAgentsResponse>;
  
}

export interface AgentAdminDefinition extends grpc.ServiceDefinition {
  BanAgent: MethodDefinition<_tessera_v1_AgentIdRequest, _tessera_v1_Agent, _tessera_v1_AgentIdRequest__Output, _tessera_v1_Agent__Output>
  CountAgents: MethodDefinition<_tessera_v1_ListAgentsRequest, _tessera_v1_CountResponse, _tessera_v1_ListAgentsRequest__Output, _tessera_v1_CountResponse__Output>
  CreateJoinToken: MethodDefinition<_tessera_v1_CreateJoinTokenRequest, _tessera_v1_JoinToken, _tessera_v1_CreateJoinTokenRequest__Output, _tessera_v1_JoinToken__Output>
  EvictAgent: MethodDefinition<_tessera_v1_AgentIdRequest, _tessera_v1_EvictAgentResponse, _tessera_v1_AgentIdRequest__Output, _tessera_v1_EvictAgentResponse__Output>
  GetAgent: MethodDefinition<_tessera_v1_GetAgentRequest, _tessera_v1_Agent, _tessera_v1_GetAgentRequest__Output, _tessera_v1_Agent__Output>
  ListAgents: MethodDefinition<_tessera_v1_ListAgentsRequest, _tessera_v1_ListAgentsResponse, _tessera_v1_ListAgentsRequest__Output, _tessera_v1_ListAgentsResponse__Output>
}
