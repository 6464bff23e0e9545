/**
 * Agent B, "tool service": an HTTPS API over SPIFFE mTLS. It takes its SVID from the
 * local Tessera agent (Workload API), lets in only agents of one provider from its
 * own trust domain, and logs every caller's SPIFFE ID and agent claims.
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/tessera/agent.sock PORT=8443 ALLOWED_PROVIDER=anthropic \
 *     node --import tsx examples/mtls-agents/tool-service.ts
 *
 * Nothing restarts on rotation: new connections get the new certificate, open ones stay.
 */
import { X509Certificate } from 'node:crypto';
import {
  X509Source, createMtlsHttpsServer, getPeer, authorizeAll, authorizeMemberOf, authorizeAgent,
} from 'tessera';

const log = (msg: string, fields: Record<string, unknown> = {}) => console.log(JSON.stringify({ msg, ...fields }));
const serial = (der: Uint8Array) => new X509Certificate(der).serialNumber;

const source = await X509Source.create();                       // waits for our first SVID
const me = source.getX509Svid();
log('tool service identity', { id: me.id.toString(), claims: me.claims, serial: serial(me.certificates[0]!) });
source.onUpdate(() => {
  try { log('svid rotated', { serial: serial(source.getX509Svid().certificates[0]!) }); } catch (e) { log('svid unavailable', { error: String(e) }); }
});

const server = createMtlsHttpsServer({
  source,
  authorize: authorizeAll(
    authorizeMemberOf(me.id.trustDomain),
    authorizeAgent({ agent_provider: process.env.ALLOWED_PROVIDER ?? 'anthropic' }),
  ),
  onReject: (err) => log('peer rejected', { error: err.message }),
}, (req, res) => {
  const peer = getPeer(req)!;                                    // verified at the handshake
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    service: me.id.toString(),
    peer: { id: peer.id.toString(), claims: peer.claims },
    peer_serial: serial(peer.verifiedChain![0]!),
    result: `ran ${req.url} for ${peer.claims.agent_model ?? 'a workload'}`,
  }));
});
server.keepAliveTimeout = 30_000;
server.on('secureConnection', (socket) => {
  const peer = getPeer(socket)!;
  log('peer connected', { peer: peer.id.toString(), claims: peer.claims });
});

server.listen(Number(process.env.PORT ?? 8443), process.env.HOST ?? '127.0.0.1', () => {
  const a = server.address() as { address: string; port: number };
  log(`listening on ${a.address}:${a.port}`);
});

const stop = () => { server.close(); void source.close(); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
