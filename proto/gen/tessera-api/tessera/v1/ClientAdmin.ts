// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClientIdRequest as _tessera_v1_ClientIdRequest, ClientIdRequest__Output as _tessera_v1_ClientIdRequest__Output } from '../../tessera/v1/ClientIdRequest';
import type { DeleteClientResponse as _tessera_v1_DeleteClientResponse, DeleteClientResponse__Output as _tessera_v1_DeleteClientResponse__Output } from '../../tessera/v1/DeleteClientResponse';
import type { ListClientsRequest as _tessera_v1_ListClientsRequest, ListClientsRequest__Output as _tessera_v1_ListClientsRequest__Output } from '../../tessera/v1/ListClientsRequest';
import type { ListClientsResponse as _tessera_v1_ListClientsResponse, ListClientsResponse__Output as _tessera_v1_ListClientsResponse__Output } from '../../tessera/v1/ListClientsResponse';
import type { OAuthClient as _tessera_v1_OAuthClient, OAuthClient__Output as _tessera_v1_OAuthClient__Output } from '../../tessera/v1/OAuthClient';

export interface ClientAdminClient extends grpc.Client {
  CreateClient(argument: _tessera_v1_OAuthClient, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  CreateClient(argument: _tessera_v1_OAuthClient, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  CreateClient(argument: _tessera_v1_OAuthClient, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  CreateClient(argument: _tessera_v1_OAuthClient, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  createClient(argument: _tessera_v1_OAuthClient, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  createClient(argument: _tessera_v1_OAuthClient, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  createClient(argument: _tessera_v1_OAuthClient, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  createClient(argument: _tessera_v1_OAuthClient, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  
  DeleteClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  DeleteClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  DeleteClient(argument: _tessera_v1_ClientIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  DeleteClient(argument: _tessera_v1_ClientIdRequest, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  deleteClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  deleteClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  deleteClient(argument: _tessera_v1_ClientIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  deleteClient(argument: _tessera_v1_ClientIdRequest, callback: grpc.requestCallback<_tessera_v1_DeleteClientResponse__Output>): grpc.ClientUnaryCall;
  
  GetClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  GetClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  GetClient(argument: _tessera_v1_ClientIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  GetClient(argument: _tessera_v1_ClientIdRequest, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  getClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  getClient(argument: _tessera_v1_ClientIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  getClient(argument: _tessera_v1_ClientIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  getClient(argument: _tessera_v1_ClientIdRequest, callback: grpc.requestCallback<_tessera_v1_OAuthClient__Output>): grpc.ClientUnaryCall;
  
  ListClients(argument: _tessera_v1_ListClientsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  ListClients(argument: _tessera_v1_ListClientsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  ListClients(argument: _tessera_v1_ListClientsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  ListClients(argument: _tessera_v1_ListClientsRequest, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  listClients(argument: _tessera_v1_ListClientsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  listClients(argument: _tessera_v1_ListClientsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  listClients(argument: _tessera_v1_ListClientsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  listClients(argument: _tessera_v1_ListClientsRequest, callback: grpc.requestCallback<_tessera_v1_ListClientsResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ClientAdminHandlers extends grpc.UntypedServiceImplementation {
  CreateClient: grpc.handleUnaryCall<_tessera_v1_OAuthClient__Output, _tessera_v1_OAuthClient>;
  
  DeleteClient: grpc.handleUnaryCall<_tessera_v1_ClientIdRequest__Output, _tessera_v1_DeleteClientResponse>;
  
  GetClient: grpc.handleUnaryCall<_tessera_v1_ClientIdRequest__Output, _tessera_v1_OAuthClient>;
  
  ListClients: grpc.handleUnaryCall<_tessera_v1_ListClientsRequest__Output, _tessera_v1_ListClientsResponse>;
  
}

export interface ClientAdminDefinition extends grpc.ServiceDefinition {
  CreateClient: MethodDefinition<_tessera_v1_OAuthClient, _tessera_v1_OAuthClient, _tessera_v1_OAuthClient__Output, _tessera_v1_OAuthClient__Output>
  DeleteClient: MethodDefinition<_tessera_v1_ClientIdRequest, _tessera_v1_DeleteClientResponse, _tessera_v1_ClientIdRequest__Output, _tessera_v1_DeleteClientResponse__Output>
  GetClient: MethodDefinition<_tessera_v1_ClientIdRequest, _tessera_v1_OAuthClient, _tessera_v1_ClientIdRequest__Output, _tessera_v1_OAuthClient__Output>
  ListClients: MethodDefinition<_tessera_v1_ListClientsRequest, _tessera_v1_ListClientsResponse, _tessera_v1_ListClientsRequest__Output, _tessera_v1_ListClientsResponse__Output>
}
