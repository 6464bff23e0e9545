import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from '../../proto/gen/spiffe/workload.ts';

/**
 * Loads the Workload API definition (proto/spiffe/workload.proto, no package line,
 * so method paths are /SpiffeWorkloadAPI/<Rpc>). spiffe/ stays independent of
 * common/, so it has its own loader with the options proto/gen was generated with.
 */
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

let loaded: ProtoGrpcType | undefined;

export function loadWorkloadProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(protoLoader.loadSync('spiffe/workload.proto', {
    keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR],
  })) as unknown as ProtoGrpcType;
  return loaded;
}

/** The header every Workload API request carries (SPIFFE Workload Endpoint). */
export const WORKLOAD_HEADER = { key: 'workload.spiffe.io', value: 'true' } as const;
