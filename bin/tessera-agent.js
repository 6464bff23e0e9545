#!/usr/bin/env node
// Launcher: runs the compiled CLI (dist/tessera-agent.mjs, `npm run build`) with plain
// node. A checkout that was never built falls back to the TypeScript sources through
// tsx, and says so on stderr.
import { existsSync } from 'node:fs';

const built = new URL('../dist/tessera-agent.mjs', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write('tessera-agent: dist/ is not built (run `npm run build`); running the TypeScript sources through tsx\n');
  const { register } = await import('tsx/esm/api');
  register();
  await import('../node-agent/cli/main.ts');
}
