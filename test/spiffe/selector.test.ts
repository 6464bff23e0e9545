import test from 'ava';
import { SpiffeError } from '../../spiffe/errors.ts';
import { makeSelector, parseSelector, selectorControlCharacter } from '../../spiffe/selector.ts';

test('a selector value holding a control character is refused, naming the character and its offset', (t) => {
  for (const [value, cp] of [['a\nb', '000A'], ['x\ty', '0009'], ['\u001b[31m', '001B'], ['ok\u0085', '0085'], ['l\u2028s', '2028'], ['\u202Eevil', '202E'], ['\ud800', 'D800']] as const) {
    const err = t.throws(() => makeSelector('docker', value), { instanceOf: SpiffeError });
    t.is(err?.code, 'ERR_SELECTOR_INVALID');
    t.true(err!.message.includes(`control character U+${cp} at offset ${value.indexOf(value.match(/[^a-z[]/u)![0])}`), err!.message);
  }
  t.throws(() => parseSelector('unix:uid:1\n0'), { instanceOf: SpiffeError });
});

test('ordinary values, including non-ASCII text and colons, are selectors', (t) => {
  for (const v of ['label:role:admin', 'ünïcødé', 'sha256:abc', 'a b c', '😀']) {
    t.is(selectorControlCharacter(v), undefined);
    t.is(makeSelector('docker', v).value, v);
  }
});
