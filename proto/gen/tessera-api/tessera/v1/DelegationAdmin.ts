// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DelegationPolicy as _tessera_v1_DelegationPolicy, DelegationPolicy__Output as _tessera_v1_DelegationPolicy__Output } from '../../tessera/v1/DelegationPolicy';
import type { DeletePolicyResponse as _tessera_v1_DeletePolicyResponse, DeletePolicyResponse__Output as _tessera_v1_DeletePolicyResponse__Output } from '../../tessera/v1/DeletePolicyResponse';
import type { ListApprovalRequestsRequest as _tessera_v1_ListApprovalRequestsRequest, ListApprovalRequestsRequest__Output as _tessera_v1_ListApprovalRequestsRequest__Output } from '../../tessera/v1/ListApprovalRequestsRequest';
import type { ListApprovalRequestsResponse as _tessera_v1_ListApprovalRequestsResponse, ListApprovalRequestsResponse__Output as _tessera_v1_ListApprovalRequestsResponse__Output } from '../../tessera/v1/ListApprovalRequestsResponse';
import type { ListPoliciesRequest as _tessera_v1_ListPoliciesRequest, ListPoliciesRequest__Output as _tessera_v1_ListPoliciesRequest__Output } from '../../tessera/v1/ListPoliciesRequest';
import type { ListPoliciesResponse as _tessera_v1_ListPoliciesResponse, ListPoliciesResponse__Output as _tessera_v1_ListPoliciesResponse__Output } from '../../tessera/v1/ListPoliciesResponse';
import type { ListRevocationsRequest as _tessera_v1_ListRevocationsRequest, ListRevocationsRequest__Output as _tessera_v1_ListRevocationsRequest__Output } from '../../tessera/v1/ListRevocationsRequest';
import type { ListRevocationsResponse as _tessera_v1_ListRevocationsResponse, ListRevocationsResponse__Output as _tessera_v1_ListRevocationsResponse__Output } from '../../tessera/v1/ListRevocationsResponse';
import type { PolicyIdRequest as _tessera_v1_PolicyIdRequest, PolicyIdRequest__Output as _tessera_v1_PolicyIdRequest__Output } from '../../tessera/v1/PolicyIdRequest';
import type { Revocation as _tessera_v1_Revocation, Revocation__Output as _tessera_v1_Revocation__Output } from '../../tessera/v1/Revocation';
import type { RevokeRequest as _tessera_v1_RevokeRequest, RevokeRequest__Output as _tessera_v1_RevokeRequest__Output } from '../../tessera/v1/RevokeRequest';

export interface DelegationAdminClient extends grpc.Client {
  CreatePolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  CreatePolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  CreatePolicy(argument: _tessera_v1_DelegationPolicy, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  CreatePolicy(argument: _tessera_v1_DelegationPolicy, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  createPolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  createPolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  createPolicy(argument: _tessera_v1_DelegationPolicy, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  createPolicy(argument: _tessera_v1_DelegationPolicy, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  
  DeletePolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  DeletePolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  DeletePolicy(argument: _tessera_v1_PolicyIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  DeletePolicy(argument: _tessera_v1_PolicyIdRequest, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  deletePolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  deletePolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  deletePolicy(argument: _tessera_v1_PolicyIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  deletePolicy(argument: _tessera_v1_PolicyIdRequest, callback: grpc.requestCallback<_tessera_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  
  GetPolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  GetPolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  GetPolicy(argument: _tessera_v1_PolicyIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  GetPolicy(argument: _tessera_v1_PolicyIdRequest, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  getPolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  getPolicy(argument: _tessera_v1_PolicyIdRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  getPolicy(argument: _tessera_v1_PolicyIdRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  getPolicy(argument: _tessera_v1_PolicyIdRequest, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  
  ListApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  ListApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  ListApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  ListApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  listApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  listApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  listApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  listApprovalRequests(argument: _tessera_v1_ListApprovalRequestsRequest, callback: grpc.requestCallback<_tessera_v1_ListApprovalRequestsResponse__Output>): grpc.ClientUnaryCall;
  
  ListPolicies(argument: _tessera_v1_ListPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ListPolicies(argument: _tessera_v1_ListPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ListPolicies(argument: _tessera_v1_ListPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ListPolicies(argument: _tessera_v1_ListPoliciesRequest, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  listPolicies(argument: _tessera_v1_ListPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  listPolicies(argument: _tessera_v1_ListPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  listPolicies(argument: _tessera_v1_ListPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  listPolicies(argument: _tessera_v1_ListPoliciesRequest, callback: grpc.requestCallback<_tessera_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  
  ListRevocations(argument: _tessera_v1_ListRevocationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  ListRevocations(argument: _tessera_v1_ListRevocationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  ListRevocations(argument: _tessera_v1_ListRevocationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  ListRevocations(argument: _tessera_v1_ListRevocationsRequest, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  listRevocations(argument: _tessera_v1_ListRevocationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  listRevocations(argument: _tessera_v1_ListRevocationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  listRevocations(argument: _tessera_v1_ListRevocationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  listRevocations(argument: _tessera_v1_ListRevocationsRequest, callback: grpc.requestCallback<_tessera_v1_ListRevocationsResponse__Output>): grpc.ClientUnaryCall;
  
  Revoke(argument: _tessera_v1_RevokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  Revoke(argument: _tessera_v1_RevokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  Revoke(argument: _tessera_v1_RevokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  Revoke(argument: _tessera_v1_RevokeRequest, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  revoke(argument: _tessera_v1_RevokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  revoke(argument: _tessera_v1_RevokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  revoke(argument: _tessera_v1_RevokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  revoke(argument: _tessera_v1_RevokeRequest, callback: grpc.requestCallback<_tessera_v1_Revocation__Output>): grpc.ClientUnaryCall;
  
  UpdatePolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  UpdatePolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  UpdatePolicy(argument: _tessera_v1_DelegationPolicy, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  UpdatePolicy(argument: _tessera_v1_DelegationPolicy, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  updatePolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  updatePolicy(argument: _tessera_v1_DelegationPolicy, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  updatePolicy(argument: _tessera_v1_DelegationPolicy, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  updatePolicy(argument: _tessera_v1_DelegationPolicy, callback: grpc.requestCallback<_tessera_v1_DelegationPolicy__Output>): grpc.ClientUnaryCall;
  
}

export interface DelegationAdminHandlers extends grpc.UntypedServiceImplementation {
  CreatePolicy: grpc.handleUnaryCall<_tessera_v1_DelegationPolicy__Output, _tessera_v1_DelegationPolicy>;
  
  DeletePolicy: grpc.handleUnaryCall<_tessera_v1_PolicyIdRequest__Output, _tessera_v1_DeletePolicyResponse>;
  
  GetPolicy: grpc.handleUnaryCall<_tessera_v1_PolicyIdRequest__Output, _tessera_v1_DelegationPolicy>;
  
  ListApprovalRequests: grpc.handleUnaryCall<_tessera_v1_ListApprovalRequestsRequest__Output, _tessera_v1_ListApprovalRequestsResponse>;
  
  ListPolicies: grpc.handleUnaryCall<_tessera_v1_ListPoliciesRequest__Output, _tessera_v1_ListPoliciesResponse>;
  
  ListRevocations: grpc.handleUnaryCall<_tessera_v1_ListRevocationsRequest__Output, _tessera_v1_ListRevocationsResponse>;
  
  Revoke: grpc.handleUnaryCall<_tessera_v1_RevokeRequest__Output, _tessera_v1_Revocation>;
  
  UpdatePolicy: grpc.handleUnaryCall<_tessera_v1_DelegationPolicy__Output, _tessera_v1_DelegationPolicy>;
  
}

export interface DelegationAdminDefinition extends grpc.ServiceDefinition {
  CreatePolicy: MethodDefinition<_tessera_v1_DelegationPolicy, _tessera_v1_DelegationPolicy, _tessera_v1_DelegationPolicy__Output, _tessera_v1_DelegationPolicy__Output>
  DeletePolicy: MethodDefinition<_tessera_v1_PolicyIdRequest, _tessera_v1_DeletePolicyResponse, _tessera_v1_PolicyIdRequest__Output, _tessera_v1_DeletePolicyResponse__Output>
  GetPolicy: MethodDefinition<_tessera_v1_PolicyIdRequest, _tessera_v1_DelegationPolicy, _tessera_v1_PolicyIdRequest__Output, _tessera_v1_DelegationPolicy__Output>
  ListApprovalRequests: MethodDefinition<_tessera_v1_ListApprovalRequestsRequest, _tessera_v1_ListApprovalRequestsResponse, _tessera_v1_ListApprovalRequestsRequest__Output, _tessera_v1_ListApprovalRequestsResponse__Output>
  ListPolicies: MethodDefinition<_tessera_v1_ListPoliciesRequest, _tessera_v1_ListPoliciesResponse, _tessera_v1_ListPoliciesRequest__Output, _tessera_v1_ListPoliciesResponse__Output>
  ListRevocations: MethodDefinition<_tessera_v1_ListRevocationsRequest, _tessera_v1_ListRevocationsResponse, _tessera_v1_ListRevocationsRequest__Output, _tessera_v1_ListRevocationsResponse__Output>
  Revoke: MethodDefinition<_tessera_v1_RevokeRequest, _tessera_v1_Revocation, _tessera_v1_RevokeRequest__Output, _tessera_v1_Revocation__Output>
  UpdatePolicy: MethodDefinition<_tessera_v1_DelegationPolicy, _tessera_v1_DelegationPolicy, _tessera_v1_DelegationPolicy__Output, _tessera_v1_DelegationPolicy__Output>
}
