import type { JWTPayload } from 'jose';
import { startHttpServer, type FakeHttpServer, type Scope } from './cloud-http.ts';
import { mintJwt, nowSec, type TestJwtKey } from './cloud-jwt.ts';

/**
 * A fake GCE metadata server: GET .../service-accounts/<sa>/identity?audience=..&format=full
 * with `Metadata-Flavor: Google` answers a fresh RS256 instance identity token.
 */
export function gcpClaims(aud: string, over: JWTPayload = {}, ce: Record<string, unknown> = {}): JWTPayload {
  const now = nowSec();
  return {
    iss: 'https://accounts.google.com', aud, azp: '112233445566778899000', sub: '112233445566778899000',
    email: '1234567890-compute@developer.gserviceaccount.com', email_verified: true, iat: now, exp: now + 3600,
    google: { compute_engine: {
      project_id: 'tessera-prod', project_number: 1234567890, zone: 'us-central1-a',
      instance_id: '5551234567890123456', instance_name: 'agent-vm-1', instance_creation_timestamp: now - 600, ...ce,
    } },
    ...over,
  };
}

export async function startFakeGcpMetadata(t: Scope, key: TestJwtKey): Promise<FakeHttpServer> {
  return startHttpServer(t, (req, _b, res) => {
    if (req.headers['metadata-flavor'] !== 'Google') { res.writeHead(403, { 'content-type': 'text/html' }).end('Missing Metadata-Flavor:Google header.'); return; }
    const m = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)\/identity$/.exec(req.path);
    const aud = req.query.get('audience');
    if (!m || !aud) { res.writeHead(m ? 400 : 404).end(m ? 'non-empty audience parameter required' : 'not found'); return; }
    const full = req.query.get('format') === 'full';
    const claims = gcpClaims(aud);
    if (!full) delete claims.google;
    void mintJwt(key, claims).then((jwt) => res.writeHead(200, { 'content-type': 'application/text', 'metadata-flavor': 'Google' }).end(jwt));
  });
}
