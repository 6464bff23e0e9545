import type { ServerResponse } from 'node:http';
import type { DelegationSubject } from '../delegation/types.ts';
import { isLoopbackHost } from './authz-params.ts';
import type { ResolvedClient } from './clients.ts';
import { esc, sendHtml } from './html.ts';

/**
 * The consent page: who asks (client name and id; for an attested agent its SPIFFE ID
 * and agent metadata), where the browser will be sent (the redirect URI's host, with a
 * warning for loopback-only clients, MCP "Localhost Redirect URI Risks"), for which MCP
 * server and which scopes. Approve and Deny are plain buttons of one POST form carrying
 * the flow's CSRF token; nothing needs JavaScript.
 */
export function sendConsentPage(res: ServerResponse, p: {
  client: ResolvedClient; user: DelegationSubject; redirectUri: string; resource: string; scopes: string[];
  csrf: string; setCookie: string;
}): void {
  const { client } = p;
  const redirect = new URL(p.redirectUri);
  const loopback = isLoopbackHost(redirect.hostname);
  const rows: string[] = [`<dt>Client ID</dt><dd><code id="client_id">${esc(client.clientId)}</code></dd>`];
  if (client.spiffeId) {
    rows.push(`<dt>Attested workload</dt><dd><code id="spiffe_id">${esc(client.spiffeId)}</code></dd>`);
    const a = client.agent;
    if (a && (a.model || a.provider || a.version)) {
      const parts = [a.provider && `provider ${a.provider}`, a.model && `model ${a.model}`, a.version && `version ${a.version}`].filter(Boolean) as string[];
      rows.push(`<dt>AI agent</dt><dd id="agent">${esc(parts.join(', '))}</dd>`);
    }
  } else if (client.source === 'metadata_document') {
    rows.push(`<dt>Published by</dt><dd id="client_host">${esc(new URL(client.clientId).host)}</dd>`);
  }
  rows.push(`<dt>Returns you to</dt><dd id="redirect_host">${esc(redirect.host)}</dd>`);
  const warning = loopback && !client.spiffeId
    ? `<p id="localhost_warning" role="note"><strong>Check this is yours:</strong> this application receives the answer on your own computer (${esc(redirect.host)}). Approve only if you started it just now.</p>`
    : '';
  const scopes = p.scopes.map((s) => `<li><code>${esc(s)}</code></li>`).join('');
  const body = `<p>Signed in as <strong id="user">${esc(p.user.name)}</strong> (${esc(p.user.issuer)}).</p>
<p><strong id="client_name">${esc(client.name)}</strong> asks to act for you.</p>
<dl>${rows.join('\n')}</dl>
${warning}
<h2>Access requested</h2>
<p>On <code id="resource">${esc(p.resource)}</code>:</p>
<ul id="scopes">${scopes}</ul>
<form id="consent" method="post" action="/oauth2/consent">
  <input type="hidden" name="csrf" value="${esc(p.csrf)}">
  <button id="approve" type="submit" name="decision" value="approve">Approve</button>
  <button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>`;
  sendHtml(res, 200, `Authorize ${client.name}`, body, { formAction: [redirect.origin !== 'null' ? redirect.origin : redirect.protocol], headers: { 'set-cookie': p.setCookie } });
}
