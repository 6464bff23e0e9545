import type { Datastore } from '../datastore/types.ts';
import type { OAuthClientRecord } from '../datastore/sql-clients.ts';
import type { ClientAuthMethod } from './client-auth.ts';
import type { ClientMetadataFetcher } from './cimd.ts';
import { OAuthError } from './errors.ts';
import { clip } from './http.ts';

/**
 * Who a client_id is, in MCP's order (docs/mcp.md "Client registration"):
 * 1. a pre-registered client (datastore `oauth_clients`: admin API / CLI, or RFC 7591
 *    dynamic registration when enabled) — SPIFFE-ID clients are always pre-registered,
 *    since their redirect URIs must come from an operator;
 * 2. a Client ID Metadata Document: an https client_id is fetched (cimd.ts);
 * 3. otherwise unknown: invalid_client.
 *
 * One datastore read per authorization or code redemption (human-paced, never on the
 * token-exchange hot path).
 */
export interface ResolvedClient {
  clientId: string;
  name: string;
  redirectUris: string[];
  authMethod: ClientAuthMethod;
  source: 'registered' | 'metadata_document';
  /** The client's SPIFFE ID when its client_id is one (an attested workload). */
  spiffeId?: string;
  /** Agent metadata of the registration entries for that SPIFFE ID (shown on the consent page). */
  agent?: { model?: string; provider?: string; version?: string };
  clientUri?: string;
}

export class ClientRegistry {
  constructor(private readonly o: {
    store: Pick<Datastore, 'getOAuthClient' | 'listEntries'>;
    cimd: ClientMetadataFetcher | undefined;
  }) {}

  async resolve(clientId: string): Promise<ResolvedClient> {
    if (clientId.length > 2048) throw new OAuthError('invalid_client', `client_id is ${clientId.length} characters; at most 2048`);
    const rec = await this.o.store.getOAuthClient(clientId);
    if (rec) return this.fromRecord(rec);
    if (clientId.startsWith('spiffe://')) {
      throw new OAuthError('invalid_client', `client ${clip(clientId, 200)} is not registered: a workload client must be pre-registered with its redirect URIs (tessera-server client create --client-id ${clip(clientId, 200)} --redirect-uri …)`);
    }
    if (this.o.cimd?.isDocumentUrl(clientId)) {
      const doc = await this.o.cimd.get(clientId);
      return {
        clientId, name: doc.clientName, redirectUris: doc.redirectUris, authMethod: 'none', source: 'metadata_document',
        ...(doc.clientUri ? { clientUri: doc.clientUri } : {}),
      };
    }
    throw new OAuthError('invalid_client', `client_id ${clip(JSON.stringify(clientId), 200)} is unknown: it is not registered here${this.o.cimd ? ' and is not an https URL of a client metadata document' : ''}`);
  }

  /** The registered token_endpoint_auth_method, for authenticateClient's requiredMethod. */
  async requiredMethod(clientId: string): Promise<ClientAuthMethod | undefined> {
    const rec = await this.o.store.getOAuthClient(clientId);
    return rec?.authMethod;
  }

  private async fromRecord(rec: OAuthClientRecord): Promise<ResolvedClient> {
    const out: ResolvedClient = {
      clientId: rec.clientId, name: rec.name || rec.clientId, redirectUris: rec.redirectUris, authMethod: rec.authMethod, source: 'registered',
    };
    if (rec.clientId.startsWith('spiffe://')) {
      out.spiffeId = rec.clientId;
      const entries = await this.o.store.listEntries({ spiffeId: rec.clientId }).catch(() => []);
      const withAgent = entries.find((e) => e.agent.model || e.agent.provider || e.agent.version);
      if (withAgent) out.agent = { ...withAgent.agent };
    }
    return out;
  }
}
