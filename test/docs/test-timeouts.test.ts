import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/proc.ts';

/**
 * ava 7 sets its run-wide inactivity timer aside while a test's own t.timeout(P) is
 * running, but when the timer fires inside that window it is dropped, not re-armed: a
 * test file that hangs then holds the whole run until CI's limit. With every P no
 * longer than the run-wide timeout the window always ends before the timer fires.
 */
function ms(text: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  if (!m) throw new Error(`unreadable ava timeout ${text}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no test asks for more time than ava\'s run-wide timeout', (t) => {
  const global = ms((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { ava: { timeout: string } }).ava.timeout);
  const found: string[] = [];
  for (const file of testFiles(join(ROOT, 'test')).filter((f) => !f.endsWith('test-timeouts.test.ts'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bt\.timeout\(([^,)]*)[,)]/g)) {
      // Literal products such as 300_000 or 10 * 60_000, so that this scan can judge them.
      if (!/^[\d_ *]+$/.test(m[1]!)) { t.fail(`${relative(ROOT, file)}: t.timeout(${m[1]}) is not a literal number`); continue; }
      const period = m[1]!.split('*').map((f) => Number(f.trim().replaceAll('_', ''))).reduce((a, b) => a * b, 1);
      found.push(`${relative(ROOT, file)}: ${period}`);
      t.true(period <= global, `${relative(ROOT, file)} asks t.timeout(${m[1]}) > ava's ${global} ms`);
    }
  }
  t.true(found.length > 10, 'the scan finds the suite\'s per-test timeouts');
});
