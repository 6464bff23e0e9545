import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/proc.ts';
import { startServer, sharedScope, type TestServer } from '../helpers/server.ts';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry } from '../helpers/agent-e2e.ts';
import { run, writeConsumerProject, type RunResult } from './consumer.ts';
import { CHECK_CTS, CHECK_MTS, FETCH_CJS, FETCH_MJS, tsconfig } from './consumer-files.ts';

/**
 * @tessera-id/sdk as a user gets it: built, packed with `npm pack`, installed from the
 * tarball into a fresh project (offline, see consumer.ts), then used from plain node
 * (ESM and CommonJS, no TypeScript loader), from a bundle, and from TypeScript, against
 * a real server + agent.
 */
const SDK_DIR = join(ROOT, 'packages/sdk');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const WORKLOAD_ID = 'spiffe://example.org/sdk-consumer';
const SDK_DEPENDENCIES = ['@grpc/grpc-js', '@grpc/proto-loader', 'jose'];
const NOT_IN_SDK = ['better-sqlite3', 'koffi', 'pg', 'tsx', 'yaml', 'esbuild', '@peculiar/x509', '@peculiar/asn1-schema', 'reflect-metadata'];

const scope = sharedScope();
let consumer: string;
let packed: { filename: string; files: { path: string }[] };
let srv: TestServer;
let agent: TestAgent;

const must = (what: string, r: RunResult): RunResult => {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
};

/** Plain node: no --import tsx, nothing inherited through NODE_OPTIONS. */
const plainNode = (args: string[], cwd: string) => run(process.execPath, args, {
  cwd, env: { NODE_OPTIONS: '', SPIFFE_ENDPOINT_SOCKET: agent.endpoint }, timeoutMs: 60_000,
});

test.before(async () => {
  must('npm run build:sdk', await run('npm', ['run', '--silent', 'build:sdk'], { cwd: ROOT, timeoutMs: 180_000 }));
  consumer = mkdtempSync(join(tmpdir(), 'tsdk-'));
  scope.teardown(() => rmSync(consumer, { recursive: true, force: true }));
  const pack = must('npm pack', await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', consumer], { cwd: SDK_DIR }));
  packed = (JSON.parse(pack.stdout) as typeof packed[])[0]!;
  writeConsumerProject(consumer, packed.filename);
  const ci = (mode: string) => run('npm', ['ci', mode, '--no-audit', '--no-fund'], { cwd: consumer, timeoutMs: 180_000 });
  let installed = await ci('--offline');
  // A machine whose npm cache was emptied after this repo's install: same lockfile, from the registry.
  if (installed.code !== 0 && /ENOTCACHED/.test(installed.stderr)) installed = await ci('--prefer-offline');
  must('npm ci', installed);
  writeFileSync(join(consumer, 'fetch.mjs'), FETCH_MJS);
  writeFileSync(join(consumer, 'fetch.cjs'), FETCH_CJS);
  writeFileSync(join(consumer, 'check.mts'), CHECK_MTS);
  writeFileSync(join(consumer, 'check.cts'), CHECK_CTS);

  srv = await startServer(scope);
  agent = await startAgent(scope, { server: srv });
  await createEntry(srv, agent.spiffeId, WORKLOAD_ID, [`unix:uid:${process.getuid!()}`]);
});
test.after.always(() => scope.cleanup());

function dirSize(dir: string): { bytes: number; files: number } {
  let bytes = 0, files = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { const s = dirSize(p); bytes += s.bytes; files += s.files; } else { bytes += lstatSync(p).size; files++; }
  }
  return { bytes, files };
}

interface FetchReport { format: string; resolved: string | null; id: string; chain: number; hasKey: boolean; bundle: number; serverOnlyExported: boolean; delegation: string }

function assertFetched(t: import('ava').ExecutionContext, r: RunResult): FetchReport {
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as FetchReport;
  t.is(report.id, WORKLOAD_ID);
  t.true(report.chain >= 1);
  t.true(report.hasKey);
  t.true(report.bundle >= 1);
  t.false(report.serverOnlyExported);
  t.is(report.delegation, 'function');
  return report;
}

test('the tarball holds the build, README, LICENSE and package.json only, with no install scripts and only the SDK\'s dependencies', (t) => {
  const paths = packed.files.map((f) => f.path).sort();
  for (const entry of ['index', 'mcp', 'txn', 'authzen', 'ssf']) {
    for (const ext of ['cjs', 'mjs', 'd.cts', 'd.mts']) t.true(paths.includes(`dist/${entry}.${ext}`), `dist/${entry}.${ext}`);
  }
  // Beside the two entries only shared chunks of the build: no sources, tests or maps.
  t.deepEqual(paths.filter((p) => !/^dist\/[\w-]+\.(c|m)js$|^dist\/[\w-]+\.d\.(c|m)ts$/.test(p)), ['LICENSE', 'README.md', 'package.json']);

  const installed = join(consumer, 'node_modules/@tessera-id/sdk');
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>; dependencies: Record<string, string>; exports: Record<string, unknown>;
  };
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) t.is(pkg.scripts?.[s], undefined, s);
  t.deepEqual(Object.keys(pkg.dependencies).sort(), SDK_DEPENDENCIES);
  // The SDK's ranges follow the repo's, which is what the tests run against.
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const d of SDK_DEPENDENCIES) t.is(pkg.dependencies[d], root.dependencies[d], d);

  // What the built code imports: the dependencies above and node builtins, nothing else.
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  // The MCP SDK is an optional peer: only the ./mcp entry may import it, never the main one.
  const imports = (file: string) => [...readFileSync(join(installed, file), 'utf8')
    .matchAll(/(?:^import[^'"]*|require\()["']([^"']+)["']/gm)].map((m) => m[1]!);
  const reachable = (entry: string) => {
    const seen = new Set<string>(); const out: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return; seen.add(file);
      for (const s of imports(file)) if (s.startsWith('./')) visit(join('dist', s.slice(2))); else out.push(s);
    };
    visit(entry);
    return { files: [...seen], specifiers: out };
  };
  for (const [entry, peers] of [['dist/index.mjs', []], ['dist/index.cjs', []], ['dist/mcp.mjs', ['@modelcontextprotocol/sdk']], ['dist/mcp.cjs', ['@modelcontextprotocol/sdk']], ['dist/biscuit.mjs', ['@biscuit-auth/biscuit-wasm']], ['dist/txn.mjs', []], ['dist/txn.cjs', []], ['dist/authzen.mjs', []], ['dist/authzen.cjs', []], ['dist/ssf.mjs', []], ['dist/ssf.cjs', []]] as const) {
    const { files, specifiers } = reachable(entry);
    t.true(specifiers.length > 0, entry);
    const foreign = specifiers.filter((s) => !builtins.has(s) && !SDK_DEPENDENCIES.includes(s) && !peers.some((p) => s === p || s.startsWith(`${p}/`)));
    t.deepEqual(foreign, [], `${entry} imports ${foreign.join(', ')}`);
    for (const f of files) t.notRegex(readFileSync(join(installed, f), 'utf8'), /\.proto['"]/, `${f} must not read a .proto at run time`);
  }

  const nm = join(consumer, 'node_modules');
  for (const name of NOT_IN_SDK) t.throws(() => lstatSync(join(nm, name)), undefined, `${name} must not be installed`);
  const size = dirSize(nm);
  const packages = readdirSync(nm).flatMap((d) => d.startsWith('@') ? readdirSync(join(nm, d)) : d.startsWith('.') ? [] : [d]).length;
  t.log(`consumer node_modules: ${(size.bytes / 1e6).toFixed(1)} MB, ${size.files} files, ${packages} packages`);
});

test('plain node loads the SDK as ESM (.mjs, no TypeScript loader) and fetches an X.509-SVID from the agent', async (t) => {
  const report = assertFetched(t, await plainNode(['fetch.mjs'], consumer));
  t.is(report.resolved, pathToFileURL(join(consumer, 'node_modules/@tessera-id/sdk/dist/index.mjs')).href);
});

test('CommonJS require loads the SDK and fetches an X.509-SVID from the agent', async (t) => {
  const report = assertFetched(t, await plainNode(['fetch.cjs'], consumer));
  t.is(report.resolved, join(consumer, 'node_modules/@tessera-id/sdk/dist/index.cjs'));
});

test('a bundle of the consumer with the SDK and its dependencies inlined runs from a directory without node_modules', async (t) => {
  // Outside the consumer project, so node's resolution cannot walk up into its node_modules.
  const elsewhere = mkdtempSync(join(tmpdir(), 'tsdkb-'));
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
  must('esbuild', await run(join(ROOT, 'node_modules/.bin/esbuild'),
    ['fetch.cjs', '--bundle', '--platform=node', '--target=node20', '--log-level=warning', `--outfile=${join(elsewhere, 'app.cjs')}`], { cwd: consumer }));
  const report = assertFetched(t, await plainNode(['app.cjs'], elsewhere));
  t.is(report.resolved, null, 'the bundle must not find the package on disk');
});

async function typeCheck(t: import('ava').ExecutionContext, typeRoots: string, expectNodeTypes: RegExp, modes: ('node16' | 'bundler')[]): Promise<void> {
  for (const mode of modes) {
    const config = `tsconfig.${mode}.${typeRoots.replace(/\W+/g, '_')}.json`;
    writeFileSync(join(consumer, config), tsconfig(mode, [typeRoots]));
    const r = await run(process.execPath, [TSC, '-p', config, '--listFiles'], { cwd: consumer, timeoutMs: 120_000 });
    const errors = r.stdout.split('\n').filter((l) => /error TS/.test(l));
    t.deepEqual(errors, [], `${mode}: ${errors.join('\n')}`);
    t.is(r.code, 0, `${mode}: ${r.stdout.slice(-2000)}${r.stderr}`);
    const listed = r.stdout.split('\n');
    // The SDK's own declarations were checked (not skipped), under the condition each file uses.
    t.true(listed.some((l) => l.endsWith('@tessera-id/sdk/dist/index.d.mts')), `${mode}: index.d.mts checked`);
    if (mode === 'node16') t.true(listed.some((l) => l.endsWith('@tessera-id/sdk/dist/index.d.cts')), 'node16: index.d.cts checked');
    const nodeTypes = listed.filter((l) => l.endsWith('/@types/node/index.d.ts'));
    t.is(nodeTypes.length, 1, `${mode}: exactly one @types/node: ${nodeTypes.join(', ')}`);
    t.regex(nodeTypes[0]!, expectNodeTypes);
  }
}

test('TypeScript consumers type-check (tsc --noEmit, strict, no skipLibCheck) under node16 and bundler resolution with @types/node 20', async (t) => {
  const types = JSON.parse(readFileSync(join(consumer, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string };
  t.regex(types.version, /^20\./);
  await typeCheck(t, './node_modules/@types', new RegExp(`^${consumer}/node_modules/@types/node/`), ['node16', 'bundler']);
});

test('TypeScript consumers type-check under node16 resolution with the current major of @types/node', async (t) => {
  // The one step that needs the registry (for the newest version's metadata).
  const dir = join(consumer, 'types-latest');
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), '{ "name": "types-latest", "private": true }');
  must('npm install @types/node@latest', await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '@types/node@latest'], { cwd: dir, timeoutMs: 180_000 }));
  const types = JSON.parse(readFileSync(join(dir, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string };
  t.log(`@types/node ${types.version}`);
  t.true(Number(types.version.split('.')[0]) > 20);
  // node16 checks both declaration files (.d.mts and .d.cts); bundler resolution was covered above.
  await typeCheck(t, './types-latest/node_modules/@types', new RegExp(`^${dir}/node_modules/@types/node/`), ['node16']);
});
