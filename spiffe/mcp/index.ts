/**
 * Tessera for MCP (docs/mcp-sdk.md): a separate entry (`@tessera-id/sdk/mcp`) because
 * it imports @modelcontextprotocol/sdk, an optional peer dependency that users of the
 * main entry never need.
 */
export { McpResourceServer, createMcpResourceServer } from './resource-server.ts';
export type { McpResourceServerOptions } from './resource-server.ts';
export { callerOf, requireScopes, toAuthInfo, missingScopes } from './auth-info.ts';
export type { McpCaller, TesseraAuthExtra, ScopeImplications } from './auth-info.ts';
export { SpiffeMcpClientProvider, JWT_SPIFFE_ASSERTION } from './client-provider.ts';
export type { SpiffeMcpClientOptions } from './client-provider.ts';
export type { AuthorizationCodeOptions } from './interactive.ts';
export type { McpServerTrust } from './client-agents.ts';
export { McpClientError } from './client-errors.ts';
export type { McpClientErrorCode } from './client-errors.ts';
export { nodeFetch } from './fetch.ts';
export type { FetchLike } from './fetch.ts';
