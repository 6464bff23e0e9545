import type { ServerResponse } from 'node:http';
import type { DelegationSubject } from '../../delegation/types.ts';
import { esc, sendHtml } from '../html.ts';
import type { ApprovalRequest } from './request.ts';

/**
 * The approval page: the requests waiting for the signed-in person, each naming the
 * agent (SPIFFE ID and agent claims), the user it acts for, the binding message, the
 * scopes it asks beyond what it holds, the audiences and the expiry; Approve and Deny
 * are buttons of one plain POST form per request carrying the session's CSRF token.
 * No script, no style (sendHtml's CSP forbids both).
 */
export function sendApprovalList(res: ServerResponse, p: { user: DelegationSubject; requests: ApprovalRequest[]; csrf: string; headers?: Record<string, string> }): void {
  const items = p.requests.map((r) => requestSection(r, p.csrf)).join('\n');
  const body = `<p>Signed in as <strong id="user">${esc(p.user.name)}</strong> (${esc(p.user.issuer)}).</p>
${p.requests.length ? `<p id="count">${p.requests.length} request${p.requests.length > 1 ? 's are' : ' is'} waiting for your decision.</p>\n${items}`
    : '<p id="none">No requests are waiting for your decision.</p>'}
<p><a id="refresh" href="/oauth2/approvals">Refresh</a></p>`;
  sendHtml(res, 200, 'Approval requests', body, { headers: p.headers });
}

function requestSection(r: ApprovalRequest, csrf: string): string {
  const d = r.data;
  const claims = d.agent.claims;
  const agentRows = [
    claims.agent_provider && `provider ${claims.agent_provider}`, claims.agent_model && `model ${claims.agent_model}`,
    claims.agent_version && `version ${claims.agent_version}`,
  ].filter(Boolean) as string[];
  const held = d.held ? d.held.scopes : d.scopes.filter((s) => !d.escalated.includes(s));
  const list = (cls: string, l: string[]) => (l.length ? `<ul class="${cls}">${l.map((s) => `<li><code>${esc(s)}</code></li>`).join('')}</ul>` : `<p class="${cls}">none</p>`);
  return `<section id="${esc(r.id)}" class="request">
<h2>${esc(d.bindingMessage ?? 'An agent asks for more authority')}</h2>
<dl>
<dt>Agent</dt><dd><code class="spiffe_id">${esc(d.agent.spiffeId)}</code></dd>
${agentRows.length ? `<dt>AI agent</dt><dd class="agent">${esc(agentRows.join(', '))}</dd>` : ''}
${claims.agent_instance_id ? `<dt>Instance</dt><dd><code class="instance">${esc(claims.agent_instance_id)}</code></dd>` : ''}
<dt>Acting for</dt><dd class="subject">${esc(d.subject.name)} (${esc(d.subject.issuer)})</dd>
${d.bindingMessage !== undefined ? `<dt>Message from the agent</dt><dd><q class="binding_message">${esc(d.bindingMessage)}</q></dd>` : ''}
<dt>Asks in addition to what it ${d.held ? 'holds' : 'may do without you'}</dt><dd>${list('escalated', d.escalated)}</dd>
<dt>${d.held ? 'Holds now' : 'Allowed without approval'}</dt><dd>${list('held', held)}</dd>
<dt>For</dt><dd>${list('audiences', d.audiences)}</dd>
<dt>Expires</dt><dd><time class="expires" datetime="${new Date(r.expiresAt * 1000).toISOString()}">${new Date(r.expiresAt * 1000).toISOString()}</time></dd>
<dt>Request</dt><dd><code class="request_id">${esc(r.id)}</code></dd>
</dl>
<form id="form-${esc(r.id)}" method="post" action="/oauth2/approvals/decide">
  <input type="hidden" name="csrf" value="${esc(csrf)}">
  <input type="hidden" name="id" value="${esc(r.id)}">
  <button id="approve-${esc(r.id)}" type="submit" name="decision" value="approve">Approve</button>
  <button id="deny-${esc(r.id)}" type="submit" name="decision" value="deny">Deny</button>
</form>
</section>`;
}

/** The outcome of a decision, or why none was taken. */
export function sendApprovalMessage(res: ServerResponse, status: number, title: string, p: { id: string; text: string; headers?: Record<string, string> }): void {
  sendHtml(res, status, title, `<p id="${esc(p.id)}" role="${status >= 400 ? 'alert' : 'status'}">${esc(p.text)}</p>
<p><a id="back" href="/oauth2/approvals">Back to the approval requests</a></p>`, { headers: p.headers });
}
