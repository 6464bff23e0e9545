import { optString, UsageError, type Command } from '../../common/cli.ts';
import { createPublicKey } from 'node:crypto';
import { TrustDomain } from '../../spiffe/id.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { call, SOCKET_OPTIONS, withAdmin } from './admin-client.ts';

/** `tessera-server bundle show`: the trust bundle as PEM (X.509 authorities) or SPIFFE JWKS. */
export const bundleCommands: Command[] = [
  {
    name: 'bundle show', summary: 'print the trust bundle (PEM CA certificates, or SPIFFE JWKS with --format jwks)',
    options: { format: { type: 'string', value: 'FORMAT', description: 'pem (default) or jwks' }, ...SOCKET_OPTIONS },
    async run(ctx) {
      const format = optString(ctx.options, 'format') ?? 'pem';
      if (format !== 'pem' && format !== 'jwks') throw new UsageError(`--format must be pem or jwks, got "${format}"`);
      await withAdmin(ctx, async (c) => {
        const b = await call<unknown, Bundle__Output>(c.bundle, 'GetBundle', {});
        const jwks = () => new SpiffeBundle(TrustDomain.parse(b.trust_domain), {
          x509Authorities: b.x509_authorities, sequence: b.sequence, refreshHint: b.refresh_hint,
          jwtAuthorities: new Map(b.jwt_authorities.map((k) => [k.key_id, createPublicKey({ key: k.public_key, format: 'der', type: 'spki' })])),
        }).toJwks();
        if (format === 'jwks') { ctx.io.out(JSON.stringify(jwks(), null, 2)); return; }
        const pem = certificatesToPem(b.x509_authorities);
        if (ctx.output === 'json') ctx.print({ trust_domain: b.trust_domain, sequence: b.sequence, pem, jwks: jwks() });
        else ctx.io.out(pem);
      });
    },
  },
];
