import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminMintJWTSVIDRequest as _tessera_v1_AdminMintJWTSVIDRequest, AdminMintJWTSVIDRequest__Output as _tessera_v1_AdminMintJWTSVIDRequest__Output } from './tessera/v1/AdminMintJWTSVIDRequest';
import type { AdminMintJWTSVIDResponse as _tessera_v1_AdminMintJWTSVIDResponse, AdminMintJWTSVIDResponse__Output as _tessera_v1_AdminMintJWTSVIDResponse__Output } from './tessera/v1/AdminMintJWTSVIDResponse';
import type { AdminMintX509SVIDRequest as _tessera_v1_AdminMintX509SVIDRequest, AdminMintX509SVIDRequest__Output as _tessera_v1_AdminMintX509SVIDRequest__Output } from './tessera/v1/AdminMintX509SVIDRequest';
import type { AdminMintX509SVIDResponse as _tessera_v1_AdminMintX509SVIDResponse, AdminMintX509SVIDResponse__Output as _tessera_v1_AdminMintX509SVIDResponse__Output } from './tessera/v1/AdminMintX509SVIDResponse';
import type { Agent as _tessera_v1_Agent, Agent__Output as _tessera_v1_Agent__Output } from './tessera/v1/Agent';
import type { AgentAdminClient as _tessera_v1_AgentAdminClient, AgentAdminDefinition as _tessera_v1_AgentAdminDefinition } from './tessera/v1/AgentAdmin';
import type { AgentIdRequest as _tessera_v1_AgentIdRequest, AgentIdRequest__Output as _tessera_v1_AgentIdRequest__Output } from './tessera/v1/AgentIdRequest';
import type { AgentMetadata as _tessera_v1_AgentMetadata, AgentMetadata__Output as _tessera_v1_AgentMetadata__Output } from './tessera/v1/AgentMetadata';
import type { ApprovalRequest as _tessera_v1_ApprovalRequest, ApprovalRequest__Output as _tessera_v1_ApprovalRequest__Output } from './tessera/v1/ApprovalRequest';
import type { AuditAdminClient as _tessera_v1_AuditAdminClient, AuditAdminDefinition as _tessera_v1_AuditAdminDefinition } from './tessera/v1/AuditAdmin';
import type { AuditCheckpoint as _tessera_v1_AuditCheckpoint, AuditCheckpoint__Output as _tessera_v1_AuditCheckpoint__Output } from './tessera/v1/AuditCheckpoint';
import type { AuditEventRecord as _tessera_v1_AuditEventRecord, AuditEventRecord__Output as _tessera_v1_AuditEventRecord__Output } from './tessera/v1/AuditEventRecord';
import type { AuditExportChunk as _tessera_v1_AuditExportChunk, AuditExportChunk__Output as _tessera_v1_AuditExportChunk__Output } from './tessera/v1/AuditExportChunk';
import type { AuditProof as _tessera_v1_AuditProof, AuditProof__Output as _tessera_v1_AuditProof__Output } from './tessera/v1/AuditProof';
import type { AuthorityRequest as _tessera_v1_AuthorityRequest, AuthorityRequest__Output as _tessera_v1_AuthorityRequest__Output } from './tessera/v1/AuthorityRequest';
import type { AuthorityState as _tessera_v1_AuthorityState, AuthorityState__Output as _tessera_v1_AuthorityState__Output } from './tessera/v1/AuthorityState';
import type { AuthorityStateResponse as _tessera_v1_AuthorityStateResponse, AuthorityStateResponse__Output as _tessera_v1_AuthorityStateResponse__Output } from './tessera/v1/AuthorityStateResponse';
import type { BatchCreateEntryRequest as _tessera_v1_BatchCreateEntryRequest, BatchCreateEntryRequest__Output as _tessera_v1_BatchCreateEntryRequest__Output } from './tessera/v1/BatchCreateEntryRequest';
import type { BatchDeleteEntryRequest as _tessera_v1_BatchDeleteEntryRequest, BatchDeleteEntryRequest__Output as _tessera_v1_BatchDeleteEntryRequest__Output } from './tessera/v1/BatchDeleteEntryRequest';
import type { BatchDeleteEntryResponse as _tessera_v1_BatchDeleteEntryResponse, BatchDeleteEntryResponse__Output as _tessera_v1_BatchDeleteEntryResponse__Output } from './tessera/v1/BatchDeleteEntryResponse';
import type { BatchEntryResponse as _tessera_v1_BatchEntryResponse, BatchEntryResponse__Output as _tessera_v1_BatchEntryResponse__Output } from './tessera/v1/BatchEntryResponse';
import type { BatchUpdateEntryRequest as _tessera_v1_BatchUpdateEntryRequest, BatchUpdateEntryRequest__Output as _tessera_v1_BatchUpdateEntryRequest__Output } from './tessera/v1/BatchUpdateEntryRequest';
import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from './tessera/v1/Bundle';
import type { BundleAdminClient as _tessera_v1_BundleAdminClient, BundleAdminDefinition as _tessera_v1_BundleAdminDefinition } from './tessera/v1/BundleAdmin';
import type { ClientAdminClient as _tessera_v1_ClientAdminClient, ClientAdminDefinition as _tessera_v1_ClientAdminDefinition } from './tessera/v1/ClientAdmin';
import type { ClientIdRequest as _tessera_v1_ClientIdRequest, ClientIdRequest__Output as _tessera_v1_ClientIdRequest__Output } from './tessera/v1/ClientIdRequest';
import type { CountResponse as _tessera_v1_CountResponse, CountResponse__Output as _tessera_v1_CountResponse__Output } from './tessera/v1/CountResponse';
import type { CreateJoinTokenRequest as _tessera_v1_CreateJoinTokenRequest, CreateJoinTokenRequest__Output as _tessera_v1_CreateJoinTokenRequest__Output } from './tessera/v1/CreateJoinTokenRequest';
import type { DelegationAdminClient as _tessera_v1_DelegationAdminClient, DelegationAdminDefinition as _tessera_v1_DelegationAdminDefinition } from './tessera/v1/DelegationAdmin';
import type { DelegationPolicy as _tessera_v1_DelegationPolicy, DelegationPolicy__Output as _tessera_v1_DelegationPolicy__Output } from './tessera/v1/DelegationPolicy';
import type { DeleteClientResponse as _tessera_v1_DeleteClientResponse, DeleteClientResponse__Output as _tessera_v1_DeleteClientResponse__Output } from './tessera/v1/DeleteClientResponse';
import type { DeleteFederationRelationshipRequest as _tessera_v1_DeleteFederationRelationshipRequest, DeleteFederationRelationshipRequest__Output as _tessera_v1_DeleteFederationRelationshipRequest__Output } from './tessera/v1/DeleteFederationRelationshipRequest';
import type { DeleteFederationRelationshipResponse as _tessera_v1_DeleteFederationRelationshipResponse, DeleteFederationRelationshipResponse__Output as _tessera_v1_DeleteFederationRelationshipResponse__Output } from './tessera/v1/DeleteFederationRelationshipResponse';
import type { DeletePolicyResponse as _tessera_v1_DeletePolicyResponse, DeletePolicyResponse__Output as _tessera_v1_DeletePolicyResponse__Output } from './tessera/v1/DeletePolicyResponse';
import type { DeleteResult as _tessera_v1_DeleteResult, DeleteResult__Output as _tessera_v1_DeleteResult__Output } from './tessera/v1/DeleteResult';
import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from './tessera/v1/Entry';
import type { EntryAdminClient as _tessera_v1_EntryAdminClient, EntryAdminDefinition as _tessera_v1_EntryAdminDefinition } from './tessera/v1/EntryAdmin';
import type { EntryResult as _tessera_v1_EntryResult, EntryResult__Output as _tessera_v1_EntryResult__Output } from './tessera/v1/EntryResult';
import type { EvictAgentResponse as _tessera_v1_EvictAgentResponse, EvictAgentResponse__Output as _tessera_v1_EvictAgentResponse__Output } from './tessera/v1/EvictAgentResponse';
import type { ExportAuditRequest as _tessera_v1_ExportAuditRequest, ExportAuditRequest__Output as _tessera_v1_ExportAuditRequest__Output } from './tessera/v1/ExportAuditRequest';
import type { FederatedBundleRequest as _tessera_v1_FederatedBundleRequest, FederatedBundleRequest__Output as _tessera_v1_FederatedBundleRequest__Output } from './tessera/v1/FederatedBundleRequest';
import type { FederationAdminClient as _tessera_v1_FederationAdminClient, FederationAdminDefinition as _tessera_v1_FederationAdminDefinition } from './tessera/v1/FederationAdmin';
import type { FederationRelationship as _tessera_v1_FederationRelationship, FederationRelationship__Output as _tessera_v1_FederationRelationship__Output } from './tessera/v1/FederationRelationship';
import type { FederationRelationshipRequest as _tessera_v1_FederationRelationshipRequest, FederationRelationshipRequest__Output as _tessera_v1_FederationRelationshipRequest__Output } from './tessera/v1/FederationRelationshipRequest';
import type { FederationStatus as _tessera_v1_FederationStatus, FederationStatus__Output as _tessera_v1_FederationStatus__Output } from './tessera/v1/FederationStatus';
import type { GetAgentRequest as _tessera_v1_GetAgentRequest, GetAgentRequest__Output as _tessera_v1_GetAgentRequest__Output } from './tessera/v1/GetAgentRequest';
import type { GetAuditCheckpointRequest as _tessera_v1_GetAuditCheckpointRequest, GetAuditCheckpointRequest__Output as _tessera_v1_GetAuditCheckpointRequest__Output } from './tessera/v1/GetAuditCheckpointRequest';
import type { GetBundleAdminRequest as _tessera_v1_GetBundleAdminRequest, GetBundleAdminRequest__Output as _tessera_v1_GetBundleAdminRequest__Output } from './tessera/v1/GetBundleAdminRequest';
import type { GetEntryRequest as _tessera_v1_GetEntryRequest, GetEntryRequest__Output as _tessera_v1_GetEntryRequest__Output } from './tessera/v1/GetEntryRequest';
import type { JWTKey as _tessera_v1_JWTKey, JWTKey__Output as _tessera_v1_JWTKey__Output } from './tessera/v1/JWTKey';
import type { JoinToken as _tessera_v1_JoinToken, JoinToken__Output as _tessera_v1_JoinToken__Output } from './tessera/v1/JoinToken';
import type { ListAgentsRequest as _tessera_v1_ListAgentsRequest, ListAgentsRequest__Output as _tessera_v1_ListAgentsRequest__Output } from './tessera/v1/ListAgentsRequest';
import type { ListAgentsResponse as _tessera_v1_ListAgentsResponse, ListAgentsResponse__Output as _tessera_v1_ListAgentsResponse__Output } from './tessera/v1/ListAgentsResponse';
import type { ListApprovalRequestsRequest as _tessera_v1_ListApprovalRequestsRequest, ListApprovalRequestsRequest__Output as _tessera_v1_ListApprovalRequestsRequest__Output } from './tessera/v1/ListApprovalRequestsRequest';
import type { ListApprovalRequestsResponse as _tessera_v1_ListApprovalRequestsResponse, ListApprovalRequestsResponse__Output as _tessera_v1_ListApprovalRequestsResponse__Output } from './tessera/v1/ListApprovalRequestsResponse';
import type { ListAuditEventsRequest as _tessera_v1_ListAuditEventsRequest, ListAuditEventsRequest__Output as _tessera_v1_ListAuditEventsRequest__Output } from './tessera/v1/ListAuditEventsRequest';
import type { ListAuditEventsResponse as _tessera_v1_ListAuditEventsResponse, ListAuditEventsResponse__Output as _tessera_v1_ListAuditEventsResponse__Output } from './tessera/v1/ListAuditEventsResponse';
import type { ListClientsRequest as _tessera_v1_ListClientsRequest, ListClientsRequest__Output as _tessera_v1_ListClientsRequest__Output } from './tessera/v1/ListClientsRequest';
import type { ListClientsResponse as _tessera_v1_ListClientsResponse, ListClientsResponse__Output as _tessera_v1_ListClientsResponse__Output } from './tessera/v1/ListClientsResponse';
import type { ListEntriesRequest as _tessera_v1_ListEntriesRequest, ListEntriesRequest__Output as _tessera_v1_ListEntriesRequest__Output } from './tessera/v1/ListEntriesRequest';
import type { ListEntriesResponse as _tessera_v1_ListEntriesResponse, ListEntriesResponse__Output as _tessera_v1_ListEntriesResponse__Output } from './tessera/v1/ListEntriesResponse';
import type { ListFederatedBundlesRequest as _tessera_v1_ListFederatedBundlesRequest, ListFederatedBundlesRequest__Output as _tessera_v1_ListFederatedBundlesRequest__Output } from './tessera/v1/ListFederatedBundlesRequest';
import type { ListFederatedBundlesResponse as _tessera_v1_ListFederatedBundlesResponse, ListFederatedBundlesResponse__Output as _tessera_v1_ListFederatedBundlesResponse__Output } from './tessera/v1/ListFederatedBundlesResponse';
import type { ListFederationRelationshipsRequest as _tessera_v1_ListFederationRelationshipsRequest, ListFederationRelationshipsRequest__Output as _tessera_v1_ListFederationRelationshipsRequest__Output } from './tessera/v1/ListFederationRelationshipsRequest';
import type { ListFederationRelationshipsResponse as _tessera_v1_ListFederationRelationshipsResponse, ListFederationRelationshipsResponse__Output as _tessera_v1_ListFederationRelationshipsResponse__Output } from './tessera/v1/ListFederationRelationshipsResponse';
import type { ListPoliciesRequest as _tessera_v1_ListPoliciesRequest, ListPoliciesRequest__Output as _tessera_v1_ListPoliciesRequest__Output } from './tessera/v1/ListPoliciesRequest';
import type { ListPoliciesResponse as _tessera_v1_ListPoliciesResponse, ListPoliciesResponse__Output as _tessera_v1_ListPoliciesResponse__Output } from './tessera/v1/ListPoliciesResponse';
import type { ListRevocationsRequest as _tessera_v1_ListRevocationsRequest, ListRevocationsRequest__Output as _tessera_v1_ListRevocationsRequest__Output } from './tessera/v1/ListRevocationsRequest';
import type { ListRevocationsResponse as _tessera_v1_ListRevocationsResponse, ListRevocationsResponse__Output as _tessera_v1_ListRevocationsResponse__Output } from './tessera/v1/ListRevocationsResponse';
import type { LocalAuthorityAdminClient as _tessera_v1_LocalAuthorityAdminClient, LocalAuthorityAdminDefinition as _tessera_v1_LocalAuthorityAdminDefinition } from './tessera/v1/LocalAuthorityAdmin';
import type { OAuthClient as _tessera_v1_OAuthClient, OAuthClient__Output as _tessera_v1_OAuthClient__Output } from './tessera/v1/OAuthClient';
import type { PolicyAmountCondition as _tessera_v1_PolicyAmountCondition, PolicyAmountCondition__Output as _tessera_v1_PolicyAmountCondition__Output } from './tessera/v1/PolicyAmountCondition';
import type { PolicyApproval as _tessera_v1_PolicyApproval, PolicyApproval__Output as _tessera_v1_PolicyApproval__Output } from './tessera/v1/PolicyApproval';
import type { PolicyCondition as _tessera_v1_PolicyCondition, PolicyCondition__Output as _tessera_v1_PolicyCondition__Output } from './tessera/v1/PolicyCondition';
import type { PolicyFirstSeenCondition as _tessera_v1_PolicyFirstSeenCondition, PolicyFirstSeenCondition__Output as _tessera_v1_PolicyFirstSeenCondition__Output } from './tessera/v1/PolicyFirstSeenCondition';
import type { PolicyIdRequest as _tessera_v1_PolicyIdRequest, PolicyIdRequest__Output as _tessera_v1_PolicyIdRequest__Output } from './tessera/v1/PolicyIdRequest';
import type { PolicyRateCondition as _tessera_v1_PolicyRateCondition, PolicyRateCondition__Output as _tessera_v1_PolicyRateCondition__Output } from './tessera/v1/PolicyRateCondition';
import type { ProveAuditConsistencyRequest as _tessera_v1_ProveAuditConsistencyRequest, ProveAuditConsistencyRequest__Output as _tessera_v1_ProveAuditConsistencyRequest__Output } from './tessera/v1/ProveAuditConsistencyRequest';
import type { ProveAuditInclusionRequest as _tessera_v1_ProveAuditInclusionRequest, ProveAuditInclusionRequest__Output as _tessera_v1_ProveAuditInclusionRequest__Output } from './tessera/v1/ProveAuditInclusionRequest';
import type { Revocation as _tessera_v1_Revocation, Revocation__Output as _tessera_v1_Revocation__Output } from './tessera/v1/Revocation';
import type { RevokeRequest as _tessera_v1_RevokeRequest, RevokeRequest__Output as _tessera_v1_RevokeRequest__Output } from './tessera/v1/RevokeRequest';
import type { Selector as _tessera_v1_Selector, Selector__Output as _tessera_v1_Selector__Output } from './tessera/v1/Selector';
import type { Status as _tessera_v1_Status, Status__Output as _tessera_v1_Status__Output } from './tessera/v1/Status';
import type { SvidAdminClient as _tessera_v1_SvidAdminClient, SvidAdminDefinition as _tessera_v1_SvidAdminDefinition } from './tessera/v1/SvidAdmin';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      AdminMintJWTSVIDRequest: MessageTypeDefinition<_tessera_v1_AdminMintJWTSVIDRequest, _tessera_v1_AdminMintJWTSVIDRequest__Output>
      AdminMintJWTSVIDResponse: MessageTypeDefinition<_tessera_v1_AdminMintJWTSVIDResponse, _tessera_v1_AdminMintJWTSVIDResponse__Output>
      AdminMintX509SVIDRequest: MessageTypeDefinition<_tessera_v1_AdminMintX509SVIDRequest, _tessera_v1_AdminMintX509SVIDRequest__Output>
      AdminMintX509SVIDResponse: MessageTypeDefinition<_tessera_v1_AdminMintX509SVIDResponse, _tessera_v1_AdminMintX509SVIDResponse__Output>
      Agent: MessageTypeDefinition<_tessera_v1_Agent, _tessera_v1_Agent__Output>
      AgentAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_AgentAdminClient> & { service: _tessera_v1_AgentAdminDefinition }
      AgentIdRequest: MessageTypeDefinition<_tessera_v1_AgentIdRequest, _tessera_v1_AgentIdRequest__Output>
      AgentMetadata: MessageTypeDefinition<_tessera_v1_AgentMetadata, _tessera_v1_AgentMetadata__Output>
      ApprovalRequest: MessageTypeDefinition<_tessera_v1_ApprovalRequest, _tessera_v1_ApprovalRequest__Output>
      AuditAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_AuditAdminClient> & { service: _tessera_v1_AuditAdminDefinition }
      AuditCheckpoint: MessageTypeDefinition<_tessera_v1_AuditCheckpoint, _tessera_v1_AuditCheckpoint__Output>
      AuditEventRecord: MessageTypeDefinition<_tessera_v1_AuditEventRecord, _tessera_v1_AuditEventRecord__Output>
      AuditExportChunk: MessageTypeDefinition<_tessera_v1_AuditExportChunk, _tessera_v1_AuditExportChunk__Output>
      AuditProof: MessageTypeDefinition<_tessera_v1_AuditProof, _tessera_v1_AuditProof__Output>
      AuthorityRequest: MessageTypeDefinition<_tessera_v1_AuthorityRequest, _tessera_v1_AuthorityRequest__Output>
      AuthorityState: MessageTypeDefinition<_tessera_v1_AuthorityState, _tessera_v1_AuthorityState__Output>
      AuthorityStateResponse: MessageTypeDefinition<_tessera_v1_AuthorityStateResponse, _tessera_v1_AuthorityStateResponse__Output>
      BatchCreateEntryRequest: MessageTypeDefinition<_tessera_v1_BatchCreateEntryRequest, _tessera_v1_BatchCreateEntryRequest__Output>
      BatchDeleteEntryRequest: MessageTypeDefinition<_tessera_v1_BatchDeleteEntryRequest, _tessera_v1_BatchDeleteEntryRequest__Output>
      BatchDeleteEntryResponse: MessageTypeDefinition<_tessera_v1_BatchDeleteEntryResponse, _tessera_v1_BatchDeleteEntryResponse__Output>
      BatchEntryResponse: MessageTypeDefinition<_tessera_v1_BatchEntryResponse, _tessera_v1_BatchEntryResponse__Output>
      BatchUpdateEntryRequest: MessageTypeDefinition<_tessera_v1_BatchUpdateEntryRequest, _tessera_v1_BatchUpdateEntryRequest__Output>
      Bundle: MessageTypeDefinition<_tessera_v1_Bundle, _tessera_v1_Bundle__Output>
      BundleAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_BundleAdminClient> & { service: _tessera_v1_BundleAdminDefinition }
      ClientAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_ClientAdminClient> & { service: _tessera_v1_ClientAdminDefinition }
      ClientIdRequest: MessageTypeDefinition<_tessera_v1_ClientIdRequest, _tessera_v1_ClientIdRequest__Output>
      CountResponse: MessageTypeDefinition<_tessera_v1_CountResponse, _tessera_v1_CountResponse__Output>
      CreateJoinTokenRequest: MessageTypeDefinition<_tessera_v1_CreateJoinTokenRequest, _tessera_v1_CreateJoinTokenRequest__Output>
      DelegationAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_DelegationAdminClient> & { service: _tessera_v1_DelegationAdminDefinition }
      DelegationPolicy: MessageTypeDefinition<_tessera_v1_DelegationPolicy, _tessera_v1_DelegationPolicy__Output>
      DeleteClientResponse: MessageTypeDefinition<_tessera_v1_DeleteClientResponse, _tessera_v1_DeleteClientResponse__Output>
      DeleteFederationRelationshipRequest: MessageTypeDefinition<_tessera_v1_DeleteFederationRelationshipRequest, _tessera_v1_DeleteFederationRelationshipRequest__Output>
      DeleteFederationRelationshipResponse: MessageTypeDefinition<_tessera_v1_DeleteFederationRelationshipResponse, _tessera_v1_DeleteFederationRelationshipResponse__Output>
      DeletePolicyResponse: MessageTypeDefinition<_tessera_v1_DeletePolicyResponse, _tessera_v1_DeletePolicyResponse__Output>
      DeleteResult: MessageTypeDefinition<_tessera_v1_DeleteResult, _tessera_v1_DeleteResult__Output>
      Entry: MessageTypeDefinition<_tessera_v1_Entry, _tessera_v1_Entry__Output>
      EntryAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_EntryAdminClient> & { service: _tessera_v1_EntryAdminDefinition }
      EntryResult: MessageTypeDefinition<_tessera_v1_EntryResult, _tessera_v1_EntryResult__Output>
      EvictAgentResponse: MessageTypeDefinition<_tessera_v1_EvictAgentResponse, _tessera_v1_EvictAgentResponse__Output>
      ExportAuditRequest: MessageTypeDefinition<_tessera_v1_ExportAuditRequest, _tessera_v1_ExportAuditRequest__Output>
      FederatedBundleRequest: MessageTypeDefinition<_tessera_v1_FederatedBundleRequest, _tessera_v1_FederatedBundleRequest__Output>
      FederationAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_FederationAdminClient> & { service: _tessera_v1_FederationAdminDefinition }
      FederationRelationship: MessageTypeDefinition<_tessera_v1_FederationRelationship, _tessera_v1_FederationRelationship__Output>
      FederationRelationshipRequest: MessageTypeDefinition<_tessera_v1_FederationRelationshipRequest, _tessera_v1_FederationRelationshipRequest__Output>
      FederationStatus: MessageTypeDefinition<_tessera_v1_FederationStatus, _tessera_v1_FederationStatus__Output>
      GetAgentRequest: MessageTypeDefinition<_tessera_v1_GetAgentRequest, _tessera_v1_GetAgentRequest__Output>
      GetAuditCheckpointRequest: MessageTypeDefinition<_tessera_v1_GetAuditCheckpointRequest, _tessera_v1_GetAuditCheckpointRequest__Output>
      GetBundleAdminRequest: MessageTypeDefinition<_tessera_v1_GetBundleAdminRequest, _tessera_v1_GetBundleAdminRequest__Output>
      GetEntryRequest: MessageTypeDefinition<_tessera_v1_GetEntryRequest, _tessera_v1_GetEntryRequest__Output>
      JWTKey: MessageTypeDefinition<_tessera_v1_JWTKey, _tessera_v1_JWTKey__Output>
      JoinToken: MessageTypeDefinition<_tessera_v1_JoinToken, _tessera_v1_JoinToken__Output>
      ListAgentsRequest: MessageTypeDefinition<_tessera_v1_ListAgentsRequest, _tessera_v1_ListAgentsRequest__Output>
      ListAgentsResponse: MessageTypeDefinition<_tessera_v1_ListAgentsResponse, _tessera_v1_ListAgentsResponse__Output>
      ListApprovalRequestsRequest: MessageTypeDefinition<_tessera_v1_ListApprovalRequestsRequest, _tessera_v1_ListApprovalRequestsRequest__Output>
      ListApprovalRequestsResponse: MessageTypeDefinition<_tessera_v1_ListApprovalRequestsResponse, _tessera_v1_ListApprovalRequestsResponse__Output>
      ListAuditEventsRequest: MessageTypeDefinition<_tessera_v1_ListAuditEventsRequest, _tessera_v1_ListAuditEventsRequest__Output>
      ListAuditEventsResponse: MessageTypeDefinition<_tessera_v1_ListAuditEventsResponse, _tessera_v1_ListAuditEventsResponse__Output>
      ListClientsRequest: MessageTypeDefinition<_tessera_v1_ListClientsRequest, _tessera_v1_ListClientsRequest__Output>
      ListClientsResponse: MessageTypeDefinition<_tessera_v1_ListClientsResponse, _tessera_v1_ListClientsResponse__Output>
      ListEntriesRequest: MessageTypeDefinition<_tessera_v1_ListEntriesRequest, _tessera_v1_ListEntriesRequest__Output>
      ListEntriesResponse: MessageTypeDefinition<_tessera_v1_ListEntriesResponse, _tessera_v1_ListEntriesResponse__Output>
      ListFederatedBundlesRequest: MessageTypeDefinition<_tessera_v1_ListFederatedBundlesRequest, _tessera_v1_ListFederatedBundlesRequest__Output>
      ListFederatedBundlesResponse: MessageTypeDefinition<_tessera_v1_ListFederatedBundlesResponse, _tessera_v1_ListFederatedBundlesResponse__Output>
      ListFederationRelationshipsRequest: MessageTypeDefinition<_tessera_v1_ListFederationRelationshipsRequest, _tessera_v1_ListFederationRelationshipsRequest__Output>
      ListFederationRelationshipsResponse: MessageTypeDefinition<_tessera_v1_ListFederationRelationshipsResponse, _tessera_v1_ListFederationRelationshipsResponse__Output>
      ListPoliciesRequest: MessageTypeDefinition<_tessera_v1_ListPoliciesRequest, _tessera_v1_ListPoliciesRequest__Output>
      ListPoliciesResponse: MessageTypeDefinition<_tessera_v1_ListPoliciesResponse, _tessera_v1_ListPoliciesResponse__Output>
      ListRevocationsRequest: MessageTypeDefinition<_tessera_v1_ListRevocationsRequest, _tessera_v1_ListRevocationsRequest__Output>
      ListRevocationsResponse: MessageTypeDefinition<_tessera_v1_ListRevocationsResponse, _tessera_v1_ListRevocationsResponse__Output>
      LocalAuthorityAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_LocalAuthorityAdminClient> & { service: _tessera_v1_LocalAuthorityAdminDefinition }
      OAuthClient: MessageTypeDefinition<_tessera_v1_OAuthClient, _tessera_v1_OAuthClient__Output>
      PolicyAmountCondition: MessageTypeDefinition<_tessera_v1_PolicyAmountCondition, _tessera_v1_PolicyAmountCondition__Output>
      PolicyApproval: MessageTypeDefinition<_tessera_v1_PolicyApproval, _tessera_v1_PolicyApproval__Output>
      PolicyCondition: MessageTypeDefinition<_tessera_v1_PolicyCondition, _tessera_v1_PolicyCondition__Output>
      PolicyFirstSeenCondition: MessageTypeDefinition<_tessera_v1_PolicyFirstSeenCondition, _tessera_v1_PolicyFirstSeenCondition__Output>
      PolicyIdRequest: MessageTypeDefinition<_tessera_v1_PolicyIdRequest, _tessera_v1_PolicyIdRequest__Output>
      PolicyRateCondition: MessageTypeDefinition<_tessera_v1_PolicyRateCondition, _tessera_v1_PolicyRateCondition__Output>
      ProveAuditConsistencyRequest: MessageTypeDefinition<_tessera_v1_ProveAuditConsistencyRequest, _tessera_v1_ProveAuditConsistencyRequest__Output>
      ProveAuditInclusionRequest: MessageTypeDefinition<_tessera_v1_ProveAuditInclusionRequest, _tessera_v1_ProveAuditInclusionRequest__Output>
      Revocation: MessageTypeDefinition<_tessera_v1_Revocation, _tessera_v1_Revocation__Output>
      RevokeRequest: MessageTypeDefinition<_tessera_v1_RevokeRequest, _tessera_v1_RevokeRequest__Output>
      Selector: MessageTypeDefinition<_tessera_v1_Selector, _tessera_v1_Selector__Output>
      Status: MessageTypeDefinition<_tessera_v1_Status, _tessera_v1_Status__Output>
      SvidAdmin: SubtypeConstructor<typeof grpc.Client, _tessera_v1_SvidAdminClient> & { service: _tessera_v1_SvidAdminDefinition }
    }
  }
}

