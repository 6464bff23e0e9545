import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { AgentClaims } from '../agent-claims.ts';
import type { SpiffeId } from '../id.ts';
import type { JwtSvid } from '../jwtsvid/types.ts';

/** A verified peer: what authorizers see and what servers/clients expose. */
export interface Peer {
  id: SpiffeId;
  /** agent_model / agent_provider / agent_version / agent_instance_id ({} for plain workloads). */
  claims: AgentClaims;
  /** X.509: leaf, intermediates, then the bundle authority that anchored the path. */
  verifiedChain?: Uint8Array[];
  /** JWT: the validated token. */
  jwt?: JwtSvid;
}

const peers = new WeakMap<object, Peer>();

/** @internal Records the verified peer of a socket (or request). */
export function setPeer(holder: object, peer: Peer): void { peers.set(holder, peer); }

/**
 * The verified SPIFFE peer of an mTLS socket, or of an HTTP request on one
 * (`getPeer(req)` is `getPeer(req.socket)`); undefined when none was verified.
 */
export function getPeer(x: Socket | IncomingMessage | null | undefined): Peer | undefined {
  if (!x) return undefined;
  const direct = peers.get(x);
  if (direct) return direct;
  const sock = (x as Partial<IncomingMessage>).socket;
  return sock ? peers.get(sock) : undefined;
}
