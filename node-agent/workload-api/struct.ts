import type { Struct } from '../../proto/gen/spiffe/google/protobuf/Struct.ts';
import type { Value } from '../../proto/gen/spiffe/google/protobuf/Value.ts';

/** JSON claims → google.protobuf.Struct, as proto-loader expects it (ValidateJWTSVID). */
export function toStruct(obj: Record<string, unknown>): Struct {
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): Value {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  switch (typeof v) {
    case 'string': return { stringValue: v };
    case 'number': return { numberValue: v };
    case 'bigint': return { numberValue: Number(v) };
    case 'boolean': return { boolValue: v };
    case 'object':
      if (Array.isArray(v)) return { listValue: { values: v.map((x) => toValue(x ?? null)) } };
      return { structValue: toStruct(v as Record<string, unknown>) };
    default: return { nullValue: 'NULL_VALUE' };
  }
}
