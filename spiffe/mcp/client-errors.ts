/**
 * Errors of the MCP agent side that are not OAuth errors of the authorization server
 * (those arrive as the MCP SDK's OAuthError subclasses, e.g. InvalidScopeError). Stable
 * `code`s, as everywhere in the SDK.
 */
export type McpClientErrorCode =
  | 'ERR_MCP_DISCOVERY'        // no/unusable protected resource or authorization server metadata
  | 'ERR_MCP_ISSUER'           // metadata issuer or token `iss` is not the discovered authorization server
  | 'ERR_MCP_INTERACTIVE'      // the SDK asked for a browser redirect: this client has none (or no checked callback yet)
  | 'ERR_MCP_STATE'            // an authorization callback whose state is not the pending request's
  | 'ERR_MCP_AUTHORIZATION'    // the callback carries an error (access_denied…) or no code
  | 'ERR_MCP_SUBJECT_TOKEN';   // subjectToken() gave nothing to exchange

export class McpClientError extends Error {
  readonly code: McpClientErrorCode;
  constructor(code: McpClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'McpClientError';
  }
}
