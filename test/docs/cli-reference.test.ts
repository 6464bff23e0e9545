import test from 'ava';
import { readFileSync } from 'node:fs';
import { CLI_DOC, renderCliDocs } from '../../scripts/cli-docs.ts';

test('docs/cli.md is exactly what the CLIs print for help --markdown (run npm run gen:cli-docs after changing a verb)', (t) => {
  const expected = renderCliDocs();
  const actual = readFileSync(CLI_DOC, 'utf8');
  if (actual === expected) { t.pass(); return; }
  // Name the first differing line: the whole page in a diff would bury it.
  const a = actual.split('\n'), e = expected.split('\n');
  const i = e.findIndex((line, n) => line !== a[n]);
  t.fail(`docs/cli.md differs from the CLIs at line ${i + 1}:\n  file: ${JSON.stringify(a[i])}\n  CLIs: ${JSON.stringify(e[i])}\nRun: npm run gen:cli-docs`);
});

test('the reference covers every verb of both CLIs, each with its options', (t) => {
  const doc = readFileSync(CLI_DOC, 'utf8');
  for (const verb of ['tessera-server run', 'tessera-server entry count', 'tessera-server localauthority x509 taint', 'tessera-server x509 mint',
    'tessera-server bundle set', 'tessera-server healthcheck', 'tessera-agent api fetch x509', 'tessera-agent healthcheck']) {
    t.true(doc.includes(`### ${verb}\n`), verb);
  }
  t.regex(doc, /Usage: tessera-server localauthority x509 revoke \[options\][\s\S]*--authority-id ID/);
});
