// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';
import type { FederatedBundleRequest as _tessera_v1_FederatedBundleRequest, FederatedBundleRequest__Output as _tessera_v1_FederatedBundleRequest__Output } from '../../tessera/v1/FederatedBundleRequest';
import type { GetBundleAdminRequest as _tessera_v1_GetBundleAdminRequest, GetBundleAdminRequest__Output as _tessera_v1_GetBundleAdminRequest__Output } from '../../tessera/v1/GetBundleAdminRequest';
import type { ListFederatedBundlesRequest as _tessera_v1_ListFederatedBundlesRequest, ListFederatedBundlesRequest__Output as _tessera_v1_ListFederatedBundlesRequest__Output } from '../../tessera/v1/ListFederatedBundlesRequest';
import type { ListFederatedBundlesResponse as _tessera_v1_ListFederatedBundlesResponse, ListFederatedBundlesResponse__Output as _tessera_v1_ListFederatedBundlesResponse__Output } from '../../tessera/v1/ListFederatedBundlesResponse';

export interface BundleAdminClient extends grpc.Client {
  DeleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  DeleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  DeleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  DeleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  deleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  deleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  deleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  deleteFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, callback: grpc.requestCallback<_tessera_v1_FederatedBundleRequest__Output>): grpc.ClientUnaryCall;
  
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  
  GetFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getFederatedBundle(argument: _tessera_v1_FederatedBundleRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  
  ListFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  ListFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  ListFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  ListFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  listFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  listFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  listFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  listFederatedBundles(argument: _tessera_v1_ListFederatedBundlesRequest, callback: grpc.requestCallback<_tessera_v1_ListFederatedBundlesResponse__Output>): grpc.ClientUnaryCall;
  
  SetFederatedBundle(argument: _tessera_v1_Bundle, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  SetFederatedBundle(argument: _tessera_v1_Bundle, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  SetFederatedBundle(argument: _tessera_v1_Bundle, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  SetFederatedBundle(argument: _tessera_v1_Bundle, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  setFederatedBundle(argument: _tessera_v1_Bundle, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  setFederatedBundle(argument: _tessera_v1_Bundle, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  setFederatedBundle(argument: _tessera_v1_Bundle, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  setFederatedBundle(argument: _tessera_v1_Bundle, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  
}

export interface BundleAdminHandlers extends grpc.UntypedServiceImplementation {
  DeleteFederatedBundle: grpc.handleUnaryCall<_tessera_v1_FederatedBundleRequest__Output, _tessera_v1_FederatedBundleRequest>;
  
  GetBundle: grpc.handleUnaryCall<_tessera_v1_GetBundleAdminRequest__Output, _tessera_v1_Bundle>;
  
  GetFederatedBundle: grpc.handleUnaryCall<_tessera_v1_FederatedBundleRequest__Output, _tessera_v1_Bundle>;
  
  ListFederatedBundles: grpc.handleUnaryCall<_tessera_v1_ListFederatedBundlesRequest__Output, _tessera_v1_ListFederatedBundlesResponse>;
  
  SetFederatedBundle: grpc.handleUnaryCall<_tessera_v1_Bundle__Output, _tessera_v1_Bundle>;
  
}

export interface BundleAdminDefinition extends grpc.ServiceDefinition {
  DeleteFederatedBundle: MethodDefinition<_tessera_v1_FederatedBundleRequest, _tessera_v1_FederatedBundleRequest, _tessera_v1_FederatedBundleRequest__Output, _tessera_v1_FederatedBundleRequest__Output>
  GetBundle: MethodDefinition<_tessera_v1_GetBundleAdminRequest, _tessera_v1_Bundle, _tessera_v1_GetBundleAdminRequest__Output, _tessera_v1_Bundle__Output>
  GetFederatedBundle: MethodDefinition<_tessera_v1_FederatedBundleRequest, _tessera_v1_Bundle, _tessera_v1_FederatedBundleRequest__Output, _tessera_v1_Bundle__Output>
  ListFederatedBundles: MethodDefinition<_tessera_v1_ListFederatedBundlesRequest, _tessera_v1_ListFederatedBundlesResponse, _tessera_v1_ListFederatedBundlesRequest__Output, _tessera_v1_ListFederatedBundlesResponse__Output>
  SetFederatedBundle: MethodDefinition<_tessera_v1_Bundle, _tessera_v1_Bundle, _tessera_v1_Bundle__Output, _tessera_v1_Bundle__Output>
}
