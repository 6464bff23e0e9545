import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';

/**
 * gRPC server reflection for the Workload API. @grpc/reflection 1.0.x names the
 * symbols of a proto without a package line with a leading dot (".SpiffeWorkloadAPI"),
 * so `grpcurl list` would show ".SpiffeWorkloadAPI" and `describe SpiffeWorkloadAPI`
 * would fail. We re-key its indexes to the proper names ("SpiffeWorkloadAPI").
 * This touches the library's internals: test/node-agent/workload-api-protocol.test.ts
 * keeps a regression test on the listed name.
 */
interface ReflectionIndexes { services?: Record<string, unknown>; symbols?: Record<string, unknown> }

export function addReflection(server: grpc.Server, packageDefinition: protoLoader.PackageDefinition): void {
  const svc = new ReflectionService(packageDefinition as ConstructorParameters<typeof ReflectionService>[0]);
  const impls = svc as unknown as { v1?: ReflectionIndexes; v1Alpha?: ReflectionIndexes };
  for (const impl of [impls.v1, impls.v1Alpha]) {
    if (!impl) continue;
    if (impl.services) impl.services = undot(impl.services, false);
    if (impl.symbols) impl.symbols = undot(impl.symbols, true);
  }
  svc.addToServer(server);
}

function undot(index: Record<string, unknown>, keepDotted: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(index)) {
    if (k.startsWith('.')) {
      out[k.slice(1)] = v;
      if (keepDotted) out[k] = v;
    } else out[k] = v;
  }
  return out;
}
