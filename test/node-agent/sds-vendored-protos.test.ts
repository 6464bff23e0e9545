import test from 'ava';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/proc.ts';
import { ENVOY_PROTO_ROOTS, loadSdsProto } from '../../node-agent/sds/proto.ts';

/**
 * proto/envoy/ is a verbatim copy of part of @grpc/grpc-js-xds's deps/ (README there):
 * every vendored .proto must be byte-identical to the dev dependency's, and the set
 * must be enough to load SDS with the Secret and SPIFFE validator types.
 */
const DEPS = join(ROOT, 'node_modules/@grpc/grpc-js-xds/deps');

function protos(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? protos(p) : n.endsWith('.proto') ? [p] : [];
  });
}

test('every vendored Envoy proto is byte-identical to the one in @grpc/grpc-js-xds', (t) => {
  const files = ENVOY_PROTO_ROOTS.flatMap(protos);
  t.true(files.length >= 30);
  for (const f of files) {
    const rel = relative(join(ROOT, 'proto/envoy'), f);
    t.true(readFileSync(f).equals(readFileSync(join(DEPS, rel))), rel);
  }
});

test('each vendored tree carries its LICENSE, and the set loads the SDS service and its resource types', (t) => {
  for (const r of ENVOY_PROTO_ROOTS) t.regex(readFileSync(join(r, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  const { packageDefinition, service } = loadSdsProto();
  t.deepEqual(Object.keys(service).sort(), ['DeltaSecrets', 'FetchSecrets', 'StreamSecrets']);
  for (const type of ['envoy.extensions.transport_sockets.tls.v3.Secret', 'envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig']) {
    t.truthy(packageDefinition[type], type);
  }
});
