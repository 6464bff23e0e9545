// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeleteFederationRelationshipRequest as _tessera_v1_DeleteFederationRelationshipRequest, DeleteFederationRelationshipRequest__Output as _tessera_v1_DeleteFederationRelationshipRequest__Output } from '../../tessera/v1/DeleteFederationRelationshipRequest';
import type { DeleteFederationRelationshipResponse as _tessera_v1_DeleteFederationRelationshipResponse, DeleteFederationRelationshipResponse__Output as _tessera_v1_DeleteFederationRelationshipResponse__Output } from '../../tessera/v1/DeleteFederationRelationshipResponse';
import type { FederationRelationship as _tessera_v1_FederationRelationship, FederationRelationship__Output as _tessera_v1_FederationRelationship__Output } from '../../tessera/v1/FederationRelationship';
import type { FederationRelationshipRequest as _tessera_v1_FederationRelationshipRequest, FederationRelationshipRequest__Output as _tessera_v1_FederationRelationshipRequest__Output } from '../../tessera/v1/FederationRelationshipRequest';
import type { ListFederationRelationshipsRequest as _tessera_v1_ListFederationRelationshipsRequest, ListFederationRelationshipsRequest__Output as _tessera_v1_ListFederationRelationshipsRequest__Output } from '../../tessera/v1/ListFederationRelationshipsRequest';
import type { ListFederationRelationshipsResponse as _tessera_v1_ListFederationRelationshipsResponse, ListFederationRelationshipsResponse__Output as _tessera_v1_ListFederationRelationshipsResponse__Output } from '../../tessera/v1/ListFederationRelationshipsResponse';

export interface FederationAdminClient extends grpc.Client {
  CreateFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  CreateFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  CreateFederationRelationship(argument: _tessera_v1_FederationRelationship, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  CreateFederationRelationship(argument: _tessera_v1_FederationRelationship, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  createFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  createFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  createFederationRelationship(argument: _tessera_v1_FederationRelationship, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  createFederationRelationship(argument: _tessera_v1_FederationRelationship, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  
  DeleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  DeleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  DeleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  DeleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  deleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  deleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  deleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  deleteFederationRelationship(argument: _tessera_v1_DeleteFederationRelationshipRequest, callback: grpc.requestCallback<_tessera_v1_DeleteFederationRelationshipResponse__Output>): grpc.ClientUnaryCall;
  
  GetFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  GetFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  GetFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  GetFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  getFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  getFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  getFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  getFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  
  ListFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  ListFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  ListFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  ListFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  listFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  listFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  listFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  listFederationRelationships(argument: _tessera_v1_ListFederationRelationshipsRequest, callback: grpc.requestCallback<_tessera_v1_ListFederationRelationshipsResponse__Output>): grpc.ClientUnaryCall;
  
  RefreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  RefreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  RefreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  RefreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  refreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  refreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  refreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  refreshFederationRelationship(argument: _tessera_v1_FederationRelationshipRequest, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  
  UpdateFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  UpdateFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  UpdateFederationRelationship(argument: _tessera_v1_FederationRelationship, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  UpdateFederationRelationship(argument: _tessera_v1_FederationRelationship, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  updateFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  updateFederationRelationship(argument: _tessera_v1_FederationRelationship, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  updateFederationRelationship(argument: _tessera_v1_FederationRelationship, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  updateFederationRelationship(argument: _tessera_v1_FederationRelationship, callback: grpc.requestCallback<_tessera_v1_FederationRelationship__Output>): grpc.ClientUnaryCall;
  
}

export interface FederationAdminHandlers extends grpc.UntypedServiceImplementation {
  CreateFederationRelationship: grpc.handleUnaryCall<_tessera_v1_FederationRelationship__Output, _tessera_v1_FederationRelationship>;
  
  DeleteFederationRelationship: grpc.handleUnaryCall<_tessera_v1_DeleteFederationRelationshipRequest__Output, _tessera_v1_DeleteFederationRelationshipResponse>;
  
  GetFederationRelationship: grpc.handleUnaryCall<_tessera_v1_FederationRelationshipRequest__Output, _tessera_v1_FederationRelationship>;
  
  ListFederationRelationships: grpc.handleUnaryCall<_tessera_v1_ListFederationRelationshipsRequest__Output, _tessera_v1_ListFederationRelationshipsResponse>;
  
  RefreshFederationRelationship: grpc.handleUnaryCall<_tessera_v1_FederationRelationshipRequest__Output, _tessera_v1_FederationRelationship>;
  
  UpdateFederationRelationship: grpc.handleUnaryCall<_tessera_v1_FederationRelationship__Output, _tessera_v1_FederationRelationship>;
  
}

export interface FederationAdminDefinition extends grpc.ServiceDefinition {
  CreateFederationRelationship: MethodDefinition<_tessera_v1_FederationRelationship, _tessera_v1_FederationRelationship, _tessera_v1_FederationRelationship__Output, _tessera_v1_FederationRelationship__Output>
  DeleteFederationRelationship: MethodDefinition<_tessera_v1_DeleteFederationRelationshipRequest, _tessera_v1_DeleteFederationRelationshipResponse, _tessera_v1_DeleteFederationRelationshipRequest__Output, _tessera_v1_DeleteFederationRelationshipResponse__Output>
  GetFederationRelationship: MethodDefinition<_tessera_v1_FederationRelationshipRequest, _tessera_v1_FederationRelationship, _tessera_v1_FederationRelationshipRequest__Output, _tessera_v1_FederationRelationship__Output>
  ListFederationRelationships: MethodDefinition<_tessera_v1_ListFederationRelationshipsRequest, _tessera_v1_ListFederationRelationshipsResponse, _tessera_v1_ListFederationRelationshipsRequest__Output, _tessera_v1_ListFederationRelationshipsResponse__Output>
  RefreshFederationRelationship: MethodDefinition<_tessera_v1_FederationRelationshipRequest, _tessera_v1_FederationRelationship, _tessera_v1_FederationRelationshipRequest__Output, _tessera_v1_FederationRelationship__Output>
  UpdateFederationRelationship: MethodDefinition<_tessera_v1_FederationRelationship, _tessera_v1_FederationRelationship, _tessera_v1_FederationRelationship__Output, _tessera_v1_FederationRelationship__Output>
}
