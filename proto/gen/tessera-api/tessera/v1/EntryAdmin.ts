// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BatchCreateEntryRequest as _tessera_v1_BatchCreateEntryRequest, BatchCreateEntryRequest__Output as _tessera_v1_BatchCreateEntryRequest__Output } from '../../tessera/v1/BatchCreateEntryRequest';
import type { BatchDeleteEntryRequest as _tessera_v1_BatchDeleteEntryRequest, BatchDeleteEntryRequest__Output as _tessera_v1_BatchDeleteEntryRequest__Output } from '../../tessera/v1/BatchDeleteEntryRequest';
import type { BatchDeleteEntryResponse as _tessera_v1_BatchDeleteEntryResponse, BatchDeleteEntryResponse__Output as _tessera_v1_BatchDeleteEntryResponse__Output } from '../../tessera/v1/BatchDeleteEntryResponse';
import type { BatchEntryResponse as _tessera_v1_BatchEntryResponse, BatchEntryResponse__Output as _tessera_v1_BatchEntryResponse__Output } from '../../tessera/v1/BatchEntryResponse';
import type { BatchUpdateEntryRequest as _tessera_v1_BatchUpdateEntryRequest, BatchUpdateEntryRequest__Output as _tessera_v1_BatchUpdateEntryRequest__Output } from '../../tessera/v1/BatchUpdateEntryRequest';
import type { CountResponse as _tessera_v1_CountResponse, CountResponse__Output as _tessera_v1_CountResponse__Output } from '../../tessera/v1/CountResponse';
import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from '../../tessera/v1/Entry';
import type { GetEntryRequest as _tessera_v1_GetEntryRequest, GetEntryRequest__Output as _tessera_v1_GetEntryRequest__Output } from '../../tessera/v1/GetEntryRequest';
import type { ListEntriesRequest as _tessera_v1_ListEntriesRequest, ListEntriesRequest__Output as _tessera_v1_ListEntriesRequest__Output } from '../../tessera/v1/ListEntriesRequest';
import type { ListEntriesResponse as _tessera_v1_ListEntriesResponse, ListEntriesResponse__Output as _tessera_v1_ListEntriesResponse__Output } from '../../tessera/v1/ListEntriesResponse';

export interface EntryAdminClient extends grpc.Client {
  BatchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchCreateEntry(argument: _tessera_v1_BatchCreateEntryRequest, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  
  BatchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  batchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  batchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  batchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  batchDeleteEntry(argument: _tessera_v1_BatchDeleteEntryRequest, callback: grpc.requestCallback<_tessera_v1_BatchDeleteEntryResponse__Output>): grpc.ClientUnaryCall;
  
  BatchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  BatchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  batchUpdateEntry(argument: _tessera_v1_BatchUpdateEntryRequest, callback: grpc.requestCallback<_tessera_v1_BatchEntryResponse__Output>): grpc.ClientUnaryCall;
  
  CountEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  CountEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  CountEntries(argument: _tessera_v1_ListEntriesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  CountEntries(argument: _tessera_v1_ListEntriesRequest, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countEntries(argument: _tessera_v1_ListEntriesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  countEntries(argument: _tessera_v1_ListEntriesRequest, callback: grpc.requestCallback<_tessera_v1_CountResponse__Output>): grpc.ClientUnaryCall;
  
  GetEntry(argument: _tessera_v1_GetEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  GetEntry(argument: _tessera_v1_GetEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  GetEntry(argument: _tessera_v1_GetEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  GetEntry(argument: _tessera_v1_GetEntryRequest, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _tessera_v1_GetEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _tessera_v1_GetEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _tessera_v1_GetEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _tessera_v1_GetEntryRequest, callback: grpc.requestCallback<_tessera_v1_Entry__Output>): grpc.ClientUnaryCall;
  
  ListEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  ListEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  ListEntries(argument: _tessera_v1_ListEntriesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  ListEntries(argument: _tessera_v1_ListEntriesRequest, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  listEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  listEntries(argument: _tessera_v1_ListEntriesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  listEntries(argument: _tessera_v1_ListEntriesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  listEntries(argument: _tessera_v1_ListEntriesRequest, callback: grpc.requestCallback<_tessera_v1_ListEntriesResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface EntryAdminHandlers extends grpc.UntypedServiceImplementation {
  BatchCreateEntry: grpc.handleUnaryCall<_tessera_v1_BatchCreateEntryRequest__Output, _tessera_v1_BatchEntryResponse>;
  
  BatchDeleteEntry: grpc.handleUnaryCall<_tessera_v1_BatchDeleteEntryRequest__Output, _tessera_v1_BatchDeleteEntryResponse>;
  
  BatchUpdateEntry: grpc.handleUnaryCall<_tessera_v1_BatchUpdateEntryRequest__Output, _tessera_v1_BatchEntryResponse>;
  
  CountEntries: grpc.handleUnaryCall<_tessera_v1_ListEntriesRequest__Output, _tessera_v1_CountResponse>;
  
  GetEntry: grpc.handleUnaryCall<_tessera_v1_GetEntryRequest__Output, _tessera_v1_Entry>;
  
  ListEntries: grpc.handleUnaryCall<_tessera_v1_ListEntriesRequest__Output, _tessera_v1_ListEntriesResponse>;
  
}

export interface EntryAdminDefinition extends grpc.ServiceDefinition {
  BatchCreateEntry: MethodDefinition<_tessera_v1_BatchCreateEntryRequest, _tessera_v1_BatchEntryResponse, _tessera_v1_BatchCreateEntryRequest__Output, _tessera_v1_BatchEntryResponse__Output>
  BatchDeleteEntry: MethodDefinition<_tessera_v1_BatchDeleteEntryRequest, _tessera_v1_BatchDeleteEntryResponse, _tessera_v1_BatchDeleteEntryRequest__Output, _tessera_v1_BatchDeleteEntryResponse__Output>
  BatchUpdateEntry: MethodDefinition<_tessera_v1_BatchUpdateEntryRequest, _tessera_v1_BatchEntryResponse, _tessera_v1_BatchUpdateEntryRequest__Output, _tessera_v1_BatchEntryResponse__Output>
  CountEntries: MethodDefinition<_tessera_v1_ListEntriesRequest, _tessera_v1_CountResponse, _tessera_v1_ListEntriesRequest__Output, _tessera_v1_CountResponse__Output>
  GetEntry: MethodDefinition<_tessera_v1_GetEntryRequest, _tessera_v1_Entry, _tessera_v1_GetEntryRequest__Output, _tessera_v1_Entry__Output>
  ListEntries: MethodDefinition<_tessera_v1_ListEntriesRequest, _tessera_v1_ListEntriesResponse, _tessera_v1_ListEntriesRequest__Output, _tessera_v1_ListEntriesResponse__Output>
}
