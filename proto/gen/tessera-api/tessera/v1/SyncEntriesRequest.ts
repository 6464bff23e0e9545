// Original file: proto/tessera/agent.proto


export interface SyncEntriesRequest {
}

export interface SyncEntriesRequest__Output {
}
