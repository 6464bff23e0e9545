import type * as grpc from '@grpc/grpc-js';
import type { AgentServiceClient } from '../../proto/gen/tessera-api/tessera/v1/AgentService.ts';
import type { MintWITSVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/MintWITSVIDResponse.ts';
import { fromGrpcError } from '../bootstrap/grpc-errors.ts';
import type { ServerApi } from '../bootstrap/server-api.ts';

export interface WitMintParams { entryId: string; instanceId: string; /** SPKI DER */ publicKey: Uint8Array; alg: string }

/** The server call that signs a WIT-SVID (tessera.v1.AgentService/MintWITSVID). */
export interface WitMinter {
  mintWitSvid(p: WitMintParams): Promise<{ token: string; expiresAt: number }>;
}

const DEADLINE_MS = 15_000;

/**
 * MintWITSVID over the agent's one server channel (mTLS with the agent SVID, swapped
 * on renewal). ServerApi has no method for it yet, so this reads its current client;
 * once ServerApi.mintWitSvid exists, main.ts passes `api` itself (same shape).
 */
export function witMinterOf(api: ServerApi): WitMinter {
  const current = () => (api as unknown as { client: AgentServiceClient }).client;
  return {
    mintWitSvid: (p) => new Promise((resolve, reject) => {
      current().MintWITSVID(
        { entry_id: p.entryId, instance_id: p.instanceId, public_key: Buffer.from(p.publicKey), alg: p.alg },
        { deadline: Date.now() + DEADLINE_MS },
        (err: grpc.ServiceError | null, res?: MintWITSVIDResponse__Output) => {
          if (err || !res) return reject(fromGrpcError(err ?? new Error('empty response'), 'MintWITSVID'));
          resolve({ token: res.token, expiresAt: res.expires_at });
        },
      );
    }),
  };
}
