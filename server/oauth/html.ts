import type { ServerResponse } from 'node:http';

/**
 * The authorization server's HTML: plain forms that work without JavaScript, no inline
 * script or style, and a CSP that forbids both. `formAction` lists where a form may
 * post or be redirected after posting (browsers apply form-action to redirects too).
 */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function sendHtml(res: ServerResponse, status: number, title: string, body: string,
  opts: { formAction?: string[]; headers?: Record<string, string | string[]> } = {}): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title></head>
<body><main>
<h1>${esc(title)}</h1>
${body}
</main></body></html>`;
  const formAction = ["'self'", ...(opts.formAction ?? [])].join(' ');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-security-policy': `default-src 'none'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...opts.headers,
  });
  res.end(html);
}

/**
 * An authorization error that cannot go back to the client (unknown client, redirect
 * URI not registered, lost transaction): shown to the person, never redirected.
 */
export function sendErrorPage(res: ServerResponse, status: number, error: string, description: string, headers?: Record<string, string | string[]>): void {
  sendHtml(res, status, 'Authorization failed', `<p id="error" role="alert"><code id="error_code">${esc(error)}</code>: <span id="error_description">${esc(description)}</span></p>
<p>Return to the application and start again.</p>`, { headers });
}
