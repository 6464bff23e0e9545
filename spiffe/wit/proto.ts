import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../proto/gen/spiffe-wit/workloadapiwitsvid.ts';

/**
 * The WIT-SVID Profile of the Workload API (proto/spiffe/workloadapiwitsvid.proto) as an
 * embedded protobufjs JSON descriptor, for the same reason as workload-descriptor.ts:
 * no .proto read from a module-relative path at run time. Same service name, no
 * package: /SpiffeWorkloadAPI/FetchWITSVID and /SpiffeWorkloadAPI/FetchWITBundles.
 * test/wit/proto.test.ts fails when this copy and the .proto differ.
 */
export const WIT_DESCRIPTOR = {
  nested: {
    SpiffeWorkloadAPI: {
      methods: {
        FetchWITSVID: { requestType: 'WITSVIDRequest', responseType: 'WITSVIDResponse', responseStream: true },
        FetchWITBundles: { requestType: 'WITBundlesRequest', responseType: 'WITBundlesResponse', responseStream: true },
      },
    },
    WITSVIDRequest: { fields: { spiffe_id: { type: 'string', id: 1 } } },
    WITSVIDResponse: { fields: { svids: { rule: 'repeated', type: 'WITSVID', id: 1 } } },
    WITSVID: {
      fields: {
        spiffe_id: { type: 'string', id: 1 }, wit_svid: { type: 'string', id: 2 }, wit_svid_key: { type: 'string', id: 3 }, hint: { type: 'string', id: 4 },
      },
    },
    WITBundlesRequest: { fields: {} },
    WITBundlesResponse: { fields: { bundles: { keyType: 'string', type: 'string', id: 1 } } },
  },
};

let loaded: { grpc: ProtoGrpcType; packageDefinition: protoLoader.PackageDefinition } | undefined;

/** The package definition (for a server's reflection too) and the loaded service. */
export function loadWitProto(): { grpc: ProtoGrpcType; packageDefinition: protoLoader.PackageDefinition } {
  if (!loaded) {
    const packageDefinition = protoLoader.fromJSON(
      WIT_DESCRIPTOR as Parameters<typeof protoLoader.fromJSON>[0],
      { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true },
    );
    loaded = { grpc: grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType, packageDefinition };
  }
  return loaded;
}
