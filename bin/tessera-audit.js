#!/usr/bin/env node
// Launcher: runs the compiled offline verifier (dist/tessera-audit.mjs, `npm run build`)
// with plain node. A checkout that was never built falls back to the TypeScript sources
// through tsx, and says so on stderr.
import { existsSync } from 'node:fs';

const built = new URL('../dist/tessera-audit.mjs', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write('tessera-audit: dist/ is not built (run `npm run build`); running the TypeScript sources through tsx\n');
  const { register } = await import('tsx/esm/api');
  register();
  await import('../server/audit/verify-main.ts');
}
