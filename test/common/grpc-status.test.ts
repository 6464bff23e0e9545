import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { createPublicKey } from 'node:crypto';
import { toGrpcError } from '../../common/grpc-status.ts';
import { invalidArgument, permissionDenied } from '../../common/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { AuthorizationError } from '../../spiffe/errors.ts';

test('typed Tessera errors map to their status with their own message and code', (t) => {
  const e = toGrpcError(invalidArgument('ERR_ENTRY_SPIFFE_ID', 'spiffe_id: bad'));
  t.is(e.code, grpc.status.INVALID_ARGUMENT);
  t.is(e.details, 'spiffe_id: bad');
  t.deepEqual(e.metadata?.get('tessera-error-code'), ['ERR_ENTRY_SPIFFE_ID']);
  t.is(toGrpcError(permissionDenied('ERR_X', 'no')).code, grpc.status.PERMISSION_DENIED);
});

test('SPIFFE domain errors map by code: bad IDs are InvalidArgument, authorization failures PermissionDenied', (t) => {
  const bad = (() => { try { SpiffeId.parse('spiffe://Bad Domain/x'); } catch (e) { return e; } })();
  t.is(toGrpcError(bad).code, grpc.status.INVALID_ARGUMENT);
  t.is(toGrpcError(new AuthorizationError('not allowed')).code, grpc.status.PERMISSION_DENIED);
});

test('Node and OpenSSL errors with ERR_ codes do not leak their messages', (t) => {
  const nodeErr = (() => { try { createPublicKey(Buffer.from('not a key')); } catch (e) { return e as Error; } })()!;
  t.regex(String((nodeErr as { code?: string }).code), /^ERR_/);
  const e = toGrpcError(nodeErr);
  t.is(e.code, grpc.status.INTERNAL);
  t.is(e.details, 'internal error');
});
