import * as http from 'node:http';
import type * as https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import { serverAgent } from '../delegation/https.ts';
import type { ServerTrust } from '../delegation/types.ts';
import type { X509SvidSource } from '../source/types.ts';
import type { Authorizer } from '../tls/authorizers.ts';
import { createMtlsAgent } from '../tls/client.ts';

/** How the agent trusts the MCP server's HTTPS certificate. */
export interface McpServerTrust {
  /** Verify it as an X.509-SVID (against our bundles) and authorize its SPIFFE ID. */
  authorize?: Authorizer;
  /** Or: these CA certificates (PEM), host name checked. Default: the system's WebPKI roots. */
  caPem?: string;
}

export interface ClientAgentOptions {
  mcpOrigin: string;
  /** Our X.509-SVID: presented to the MCP server and (mTLS client auth) to the authorization server. */
  source: X509SvidSource;
  bundles: X509BundleSource;
  /** Present our SVID to the authorization server (tls_client_auth). */
  mtlsToAuthorizationServer: boolean;
  authorizationServer?: ServerTrust;
  mcpServer?: McpServerTrust;
}

/**
 * The two kinds of connection an MCP agent opens:
 *  - to its MCP server: keep-alive, our current SVID as client certificate (a token
 *    bound to it with cnf is only good on such a connection), the server checked as
 *    configured. Reset on rotation so no request rides a connection that shows the
 *    previous certificate;
 *  - to anything else, i.e. the authorization server(s) discovery names: verified as
 *    an X.509-SVID of `spiffe://<td>/tessera/server` (or `authorizationServer`), so
 *    client assertions and user tokens never reach a server we did not authenticate,
 *    whatever the MCP server's metadata says. One fresh connection per request: the
 *    certificate at the token endpoint is the one of this moment.
 */
export class ClientAgents {
  private mcp: http.Agent;
  private readonly as: https.Agent;

  constructor(private readonly o: ClientAgentOptions) {
    this.mcp = this.mcpAgent();
    this.as = serverAgent({
      ...o.authorizationServer, bundleSource: o.authorizationServer?.bundleSource ?? o.bundles,
      ...(o.mtlsToAuthorizationServer ? { client: o.source } : {}), keepAlive: false,
    });
  }

  readonly agentFor = (url: URL): http.Agent => (url.origin === this.o.mcpOrigin ? this.mcp : this.as);

  /** Drops pooled MCP connections (after a rotation). */
  reset(): void {
    const old = this.mcp;
    this.mcp = this.mcpAgent();
    old.destroy();
  }

  close(): void {
    this.mcp.destroy();
    this.as.destroy();
  }

  private mcpAgent(): http.Agent {
    if (this.o.mcpOrigin.startsWith('http:')) return new http.Agent({ keepAlive: true });
    const t = this.o.mcpServer ?? {};
    if (t.authorize) return createMtlsAgent({ source: this.o.source, bundles: this.o.bundles, authorize: t.authorize, agent: { keepAlive: true } });
    // serverAgent's CA mode: ordinary host-name verification against `caPem`, our SVID read at each connect.
    return serverAgent({ caPem: t.caPem ?? rootCertificates.join('\n'), client: this.o.source, keepAlive: true });
  }
}
