// Original file: proto/tessera/delegation.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ExchangeTokenRequest as _tessera_agent_v1_ExchangeTokenRequest, ExchangeTokenRequest__Output as _tessera_agent_v1_ExchangeTokenRequest__Output } from '../../../tessera/agent/v1/ExchangeTokenRequest';
import type { ExchangeTokenResponse as _tessera_agent_v1_ExchangeTokenResponse, ExchangeTokenResponse__Output as _tessera_agent_v1_ExchangeTokenResponse__Output } from '../../../tessera/agent/v1/ExchangeTokenResponse';

export interface DelegationClient extends grpc.Client {
  ExchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  ExchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  ExchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  ExchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  exchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  exchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  exchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  exchangeToken(argument: _tessera_agent_v1_ExchangeTokenRequest, callback: grpc.requestCallback<_tessera_agent_v1_ExchangeTokenResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface DelegationHandlers extends grpc.UntypedServiceImplementation {
  ExchangeToken: grpc.handleUnaryCall<_tessera_agent_v1_ExchangeTokenRequest__Output, _tessera_agent_v1_ExchangeTokenResponse>;
  
}

export interface DelegationDefinition extends grpc.ServiceDefinition {
  ExchangeToken: MethodDefinition<_tessera_agent_v1_ExchangeTokenRequest, _tessera_agent_v1_ExchangeTokenResponse, _tessera_agent_v1_ExchangeTokenRequest__Output, _tessera_agent_v1_ExchangeTokenResponse__Output>
}
