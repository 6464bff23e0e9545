import test from 'ava';
import { builtinModules } from 'node:module';
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { run } from '../package/consumer.ts';
import { spawnNode } from '../package/node-proc.ts';
import { containerfile, type Instruction } from './manifests.ts';

/**
 * No container runtime builds images here, so the Containerfile's two stages are
 * replayed on the file system: the build stage gets exactly what its COPY lines bring
 * from the context and runs the build in a scratch directory (never the checkout's
 * dist/); the runtime stage gets exactly what its COPY --from=build lines take, and the
 * compiled CLIs must run from it with plain node. node_modules stands in for `npm ci`
 * (a link to the checkout's), so production-only dependencies are checked separately:
 * everything the compiled code imports must be a runtime dependency.
 */
const ins = containerfile();
const stage = (n: number) => ins.filter((i) => i.stage === n);
const copies = (list: Instruction[]) => list.filter((i) => i.op === 'COPY').map((i) => {
  const words = i.args.split(/\s+/);
  const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
  const dest = words.pop()!;
  return { from, sources: words, dest };
});

let buildDir: string, runtimeDir: string;

test.before(async () => {
  buildDir = mkdtempSync(join(tmpdir(), 'cfb-'));
  runtimeDir = mkdtempSync(join(tmpdir(), 'cfr-'));
  chmodSync(runtimeDir, 0o755);
  const workdir = stage(1).find((i) => i.op === 'WORKDIR')!.args; // /src
  for (const c of copies(stage(1))) {
    for (const s of c.sources) cpSync(join(ROOT, s), join(buildDir, c.dest === './' ? s : c.dest), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(buildDir, 'node_modules'));
  const r = await run(process.execPath, [join(ROOT, 'node_modules/tsdown/dist/run.mjs')], { cwd: buildDir, env: { NODE_OPTIONS: '' }, timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`build stage failed:\n${r.stdout}\n${r.stderr}`);
  for (const c of copies(stage(2)).filter((x) => x.from === 'build')) {
    for (const s of c.sources) {
      const rel = s.slice(workdir.length + 1);
      if (rel === 'node_modules') symlinkSync(join(ROOT, 'node_modules'), join(runtimeDir, c.dest));
      else cpSync(join(buildDir, rel), join(runtimeDir, c.dest), { recursive: true });
    }
  }
});
test.after.always(() => { for (const d of [buildDir, runtimeDir]) if (d) rmSync(d, { recursive: true, force: true }); });

test('the build stage copies everything the build reads: it compiles every CLI', (t) => {
  const files = readdirSync(join(buildDir, 'dist'));
  for (const f of ['tessera-server.mjs', 'tessera-agent.mjs', 'tessera-audit.mjs', 'tpm-worker.mjs']) t.true(files.includes(f), f);
});

test('the runtime stage holds what the compiled CLIs read: both run from it with plain node', async (t) => {
  for (const [bin, usage] of [['tessera-server', 'Usage: tessera-server'], ['tessera-agent', 'Usage: tessera-agent']] as const) {
    const r = await run(process.execPath, [join(runtimeDir, 'bin', `${bin}.js`), '--help'], { cwd: runtimeDir, env: { NODE_OPTIONS: '' }, timeoutMs: 60_000 });
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout.startsWith(usage), r.stdout);
    t.notRegex(r.stderr, /dist\/ is not built/);
  }
  // A start loads the .proto files next to dist/ and opens the datastore.
  const dir = tempDir(t, 'cfs-');
  const config = join(dir, 'server.yaml');
  writeFileSync(config, JSON.stringify({ trust_domain: 'example.org', data_dir: join(dir, 'data'), agent_api: { listen: '127.0.0.1:0' } }));
  const server = spawnNode([join(runtimeDir, 'bin', 'tessera-server.js'), 'run', '--config', config]);
  t.teardown(() => server.stop());
  await server.waitFor(/"msg":"tessera server started"/);
  t.notRegex(server.stderr(), /dist\/ is not built/);
});

test('everything the compiled code imports is a runtime dependency (the image prunes dev dependencies)', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const builtins = new Set(builtinModules);
  const imported = new Set<string>();
  for (const f of readdirSync(join(buildDir, 'dist')).filter((n) => n.endsWith('.mjs'))) {
    const code = readFileSync(join(buildDir, 'dist', f), 'utf8');
    for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"'./][^"']*)["']/g)) {
      const spec = m[1]!;
      if (spec.startsWith('node:') || builtins.has(spec)) continue;
      // The scan is textual: "import" inside a string (help text) is not a module specifier.
      if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/[\w./-]*)?$/i.test(spec)) continue;
      imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  t.true(imported.size > 3, [...imported].join(', '));
  for (const name of imported) t.truthy(pkg.dependencies[name], `${name} is imported by dist/ but is not in dependencies`);
});
