export interface WitMintParams { entryId: string; instanceId: string; /** SPKI DER */ publicKey: Uint8Array; alg: string }

/**
 * The server call that signs a WIT-SVID (tessera.v1.AgentService/MintWITSVID):
 * ServerApi in the agent, which owns the channel, its deadline and error mapping.
 */
export interface WitMinter {
  mintWitSvid(p: WitMintParams): Promise<{ token: string; expiresAt: number }>;
}
