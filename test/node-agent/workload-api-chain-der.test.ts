import test from 'ava';
import { randomBytes } from 'node:crypto';
import { concatDer } from '../../spiffe/der.ts';
import { chainDer } from '../../node-agent/workload-api/handlers.ts';
import { packSvid } from '../../node-agent/cache/x509-minter.ts';

const certs = () => [randomBytes(700), randomBytes(480), randomBytes(520)].map((b) => new Uint8Array(b));

test('a chain the SVID cache packed is served as a view of its buffer, byte for byte the concatenation', (t) => {
  const chain = certs();
  const packed = packSvid(chain, new Uint8Array(randomBytes(138)));
  const der = chainDer(packed.certChain);
  t.deepEqual(Buffer.from(der), Buffer.from(concatDer(chain)));
  t.is(der.buffer, packed.certChain[0]!.buffer);
  t.is(der.length, chain.reduce((n, c) => n + c.length, 0));
});

test('certificates that are not back to back in one buffer are copied into one run', (t) => {
  const chain = certs();
  t.deepEqual(Buffer.from(chainDer(chain)), Buffer.from(concatDer(chain)));
  // Same buffer, out of order: a view would put them in the wrong order.
  const packed = packSvid(chain, new Uint8Array(0)).certChain;
  const swapped = [packed[1]!, packed[0]!, packed[2]!];
  t.deepEqual(Buffer.from(chainDer(swapped)), Buffer.from(concatDer(swapped)));
  t.is(chainDer([]).length, 0);
});
