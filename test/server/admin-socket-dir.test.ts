import test from 'ava';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { prepareAdminSocketDir } from '../../server/main.ts';
import { tempDir } from '../helpers/tmp.ts';

test('the server makes its own admin socket directory 0700', (t) => {
  const dir = join(tempDir(t), 'admin');
  prepareAdminSocketDir(dir, true);
  t.is(statSync(dir).mode & 0o777, 0o700);
});

test('a configured admin socket directory that others can enter is refused, not chmod-ed', (t) => {
  const dir = join(tempDir(t), 'shared');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const err = t.throws(() => prepareAdminSocketDir(dir, false));
  t.regex(err!.message, /admin_api\.socket: directory .* must be owned by this user and closed to others \(mode 755/);
  t.is(statSync(dir).mode & 0o777, 0o755, 'left as the operator made it');
});

test('a configured private directory is accepted, and a missing one is created 0700', (t) => {
  const base = tempDir(t);
  const priv = join(base, 'priv');
  mkdirSync(priv, { mode: 0o700 });
  t.notThrows(() => prepareAdminSocketDir(priv, false));
  const fresh = join(base, 'fresh');
  prepareAdminSocketDir(fresh, false);
  t.is(statSync(fresh).mode & 0o777, 0o700);
});
