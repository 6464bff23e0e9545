import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * docs/cli.md, rendered from the same command definitions as --help: each CLI prints
 * its reference with `help --markdown` (common/cli.ts). `npm run gen:cli-docs` writes
 * the file; test/docs/cli-reference.test.ts fails when the file differs, so the page
 * cannot drift from the CLIs.
 */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CLI_DOC = `${ROOT}docs/cli.md`;

const HEADER = `# CLI reference

Generated from the command definitions by \`npm run gen:cli-docs\` (the text of each
verb's \`--help\`); do not edit by hand. A test fails when this page and the CLIs differ.

Every verb takes \`--help\`; verbs that print something take \`--output json\` (one JSON
document; errors as \`{"error", "code"}\` on stderr). Exit status: 0 success, 1 failure
(the message says why), 2 usage error (unknown verb or flag, missing or bad value).
Durations (\`--ttl\`, \`--timeout\`, \`--x509-svid-ttl\`, ...) take \`90s\`, \`5m\`, \`1h\`, \`1d\` or
plain seconds, as in the config files. \`<program> help <verb>\` is \`<program> <verb> --help\`.

`;

function help(main: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', main, 'help', '--markdown'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, TESSERA_ADMIN_SOCKET: '', SPIFFE_ENDPOINT_SOCKET: '' },
  });
}

export function renderCliDocs(): string {
  return HEADER + help('server/cli/main.ts') + '\n' + help('node-agent/cli/main.ts');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = renderCliDocs();
  if (process.argv.includes('--check')) {
    const same = readFileSync(CLI_DOC, 'utf8') === text;
    process.stderr.write(same ? 'docs/cli.md is up to date\n' : 'docs/cli.md differs from the CLIs: run npm run gen:cli-docs\n');
    process.exitCode = same ? 0 : 1;
  } else {
    writeFileSync(CLI_DOC, text);
    process.stderr.write(`wrote ${CLI_DOC}\n`);
  }
}
