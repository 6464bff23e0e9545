import { parseScopeParam } from '../authz-params.ts';
import { OAuthError } from '../errors.ts';
import { clip, type Form } from '../http.ts';

/** The request parameters of a cross-domain grant request (ID-JAG "Token Exchange"). */
export interface GrantParams {
  /** The foreign authorization server's issuer (RFC 8414 §2). */
  audience: string;
  /** RFC 8707 resource indicators at the foreign domain. */
  resources: string[];
  scopes?: string[];
  ttl?: number;
}

const MAX_RESOURCES = 16;

export function parseGrantParams(form: Form): GrantParams {
  const audience = form.get('audience');
  if (audience === undefined) {
    throw new OAuthError('invalid_target', 'audience is required: the issuer URL of the foreign authorization server the grant is for');
  }
  const resources = parseResources(form.all('resource'));
  const scope = parseScopeParam(form.get('scope'));
  if (!scope.ok) throw new OAuthError('invalid_scope', scope.description);
  const expiresIn = form.get('expires_in');
  if (expiresIn !== undefined && !/^[1-9]\d{0,8}$/.test(expiresIn)) {
    throw new OAuthError('invalid_request', `expires_in ${clip(JSON.stringify(expiresIn), 40)} must be a positive whole number of seconds`);
  }
  return {
    audience, resources,
    ...(scope.value?.length ? { scopes: scope.value } : {}),
    ...(expiresIn !== undefined ? { ttl: Number(expiresIn) } : {}),
  };
}

/** RFC 8707: absolute URIs without a fragment. */
export function parseResources(list: string[]): string[] {
  for (const r of list) {
    let u: URL | undefined;
    try { u = new URL(r); } catch { /* below */ }
    if (!u || r.includes('#')) throw new OAuthError('invalid_target', `resource ${clip(JSON.stringify(r), 200)} must be an absolute URI without a fragment (RFC 8707)`);
  }
  if (list.length > MAX_RESOURCES) throw new OAuthError('invalid_target', `${list.length} resources requested; at most ${MAX_RESOURCES}`);
  return [...new Set(list)];
}
