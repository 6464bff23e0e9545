/**
 * `npm run build`: the server, the agent and their CLIs as plain JavaScript in dist/,
 * so bin/tessera-server.js and bin/tessera-agent.js run without a TypeScript loader.
 * Tests keep running the TypeScript sources through tsx (test/helpers/proc.ts); only
 * test/package/bins.test.ts runs this output. The SDK package has its own config
 * (packages/sdk/tsdown.config.ts, `npm run build:sdk`).
 *
 * Every chunk lands flat in dist/, one level below the repo root like common/ is, so
 * common/proto.ts's `new URL('../proto/', import.meta.url)` still finds proto/.
 */
import { defineConfig, type UserConfig } from 'tsdown';

type Plugin = Extract<NonNullable<UserConfig['plugins']>, { name: string }>;

/** Worker threads started on a sibling .ts module, and the entry each becomes in dist/. */
const WORKER_URLS: Record<string, { from: string; to: string }> = {
  'attestors/node/tpm/esys/client.ts': { from: './worker.ts', to: './tpm-worker.mjs' },
  'server/ca/sign-pool.ts': { from: './sign-worker.ts', to: './sign-worker.mjs' },
};

/**
 * Rewrites `new URL('./x.ts', import.meta.url)` worker paths to their built names, and
 * fails the build on any other .ts URL: it would point at a file dist/ does not have.
 */
const workerUrls: Plugin = {
  name: 'tessera:worker-urls',
  transform: {
    filter: { code: /import\.meta\.url/ },
    handler(code, id) {
      const rel = id.slice(process.cwd().length + 1);
      const w = WORKER_URLS[rel];
      let out = code;
      if (w) out = out.split(`new URL('${w.from}', import.meta.url)`).join(`new URL('${w.to}', import.meta.url)`);
      const stray = /new URL\(\s*['"`][^'"`]*\.ts['"`]\s*,\s*import\.meta\.url\s*\)/.exec(out);
      if (stray) this.error(`${rel}: ${stray[0]} would not exist in dist/; map it in WORKER_URLS (tsdown.config.ts)`);
      return out === code ? null : { code: out };
    },
  },
};

export default defineConfig({
  entry: {
    'tessera-server': 'server/cli/main.ts',
    'tessera-agent': 'node-agent/cli/main.ts',
    'tessera-audit': 'server/audit/verify-main.ts',
    'tpm-worker': 'attestors/node/tpm/esys/worker.ts',
    'sign-worker': 'server/ca/sign-worker.ts',
  },
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  fixedExtension: true,
  hash: false,
  dts: false,
  // Dependencies load from node_modules at run time (koffi and better-sqlite3 are native).
  deps: { skipNodeModulesBundle: true },
  plugins: [workerUrls],
  report: false,
});
