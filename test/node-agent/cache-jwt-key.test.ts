import test from 'ava';
import { jwtCacheKey } from '../../node-agent/cache/jwt-cache.ts';

test('JWT cache keys of different audience lists never collide, whatever characters audiences hold', (t) => {
  t.not(jwtCacheKey('e', 1, '', ['a\nb']), jwtCacheKey('e', 1, '', ['a', 'b']));
  t.not(jwtCacheKey('e', 1, 'i', ['a']), jwtCacheKey('e', 1, '', ['i', 'a']));
});

test('JWT cache keys ignore audience order and duplicates', (t) => {
  t.is(jwtCacheKey('e', 1, '', ['b', 'a', 'a']), jwtCacheKey('e', 1, '', ['a', 'b']));
});
