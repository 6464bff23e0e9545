// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';
import type { GetBundleAdminRequest as _tessera_v1_GetBundleAdminRequest, GetBundleAdminRequest__Output as _tessera_v1_GetBundleAdminRequest__Output } from '../../tessera/v1/GetBundleAdminRequest';

export interface BundleAdminClient extends grpc.Client {
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleAdminRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleAdminRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  
}

export interface BundleAdminHandlers extends grpc.UntypedServiceImplementation {
  GetBundle: grpc.handleUnaryCall<_tessera_v1_GetBundleAdminRequest__Output, _tessera_v1_Bundle>;
  
}

export interface BundleAdminDefinition extends grpc.ServiceDefinition {
  GetBundle: MethodDefinition<_tessera_v1_GetBundleAdminRequest, _tessera_v1_Bundle, _tessera_v1_GetBundleAdminRequest__Output, _tessera_v1_Bundle__Output>
}
