/**
 * Builds @tessera-id/sdk from the repo's one source tree (../../spiffe via src/index.ts,
 * generated from spiffe/index.ts by build/entry.ts): ESM + CommonJS, bundled .d.mts/.d.cts.
 * Run from anywhere: `npm run build:sdk` at the root, or `npm pack` here (prepack).
 */
import { defineConfig } from 'tsdown';
import { fileURLToPath } from 'node:url';
import { writeSdkEntry } from './build/entry.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  cwd: here,
  // ./mcp is a subpath of its own: @modelcontextprotocol/sdk stays an optional peer for
  // users who never touch MCP.
  entry: { index: writeSdkEntry(), mcp: '../../spiffe/mcp/index.ts', biscuit: '../../spiffe/biscuit/index.ts',
    // Transaction tokens and AuthZEN decisions (docs/transaction-tokens.md, docs/authzen.md): node builtins only.
    txn: '../../spiffe/txn/index.ts', authzen: '../../spiffe/authzen/index.ts',
    // Shared Signals receiver (docs/shared-signals.md): node builtins only.
    ssf: '../../spiffe/ssf/index.ts' },
  // ./biscuit is exported for `import` only: @biscuit-auth/biscuit-wasm is an ES module
  // that exports no CommonJS condition, and the loader finds its .wasm by import.meta.resolve.
  format: ['esm', 'cjs'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  // .mjs/.cjs and .d.mts/.d.cts, whatever "type" says: each condition gets its own types.
  fixedExtension: true,
  hash: false,
  // Bundled declarations: consumers never see our .ts import paths or proto/gen's
  // extensionless ones, so node16/nodenext and bundler resolution both work.
  dts: { tsconfig: 'tsconfig.json' },
  // Only package.json dependencies stay external; bundling anything from node_modules
  // (say @peculiar/x509 through a server-only module) fails the build instead.
  deps: { onlyBundle: [] },
  report: false,
});
