import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Biscuit from '@biscuit-auth/biscuit-wasm';

/**
 * The Biscuit reference implementation (biscuit-rust compiled to WebAssembly, npm
 * @biscuit-auth/biscuit-wasm 0.6.0), loaded by hand: its entry module imports the
 * .wasm file as an ES module, which Node 20 only allows behind
 * --experimental-wasm-modules. We compile the same file and hand it the same JS glue
 * (biscuit_bg.js and its one snippet), which is all that entry module does — minus
 * its start function, whose only effect is a "biscuit-wasm loading" line on stdout.
 *
 * Loaded once per process, on first use. The first Datalog run after loading compiles
 * most of the module lazily (close to a second on a busy machine), which would trip
 * the authorizer's own time limit; `load` therefore runs one representative
 * authorization with a generous limit before anyone else does.
 */
export type BiscuitLib = typeof Biscuit;

/** Run limits for every authorization (the library's default 1 ms trips on GC pauses). */
export const RUN_LIMITS = { max_facts: 1000, max_iterations: 100, max_time_micro: 1_000_000 } as const;
const WARM_UP_LIMITS = { max_facts: 1000, max_iterations: 100, max_time_micro: 60_000_000 } as const;

/** The few WebAssembly JS API members used (the project's lib settings declare none). */
interface WasmApi {
  Module: { new (bytes: Uint8Array): object; imports(m: object): { module: string; name: string }[] };
  Instance: new (m: object, imports: Record<string, object>) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let loading: Promise<BiscuitLib> | undefined;
let loaded: BiscuitLib | undefined;

/** The library, loaded (and warmed up) once. */
export function loadBiscuit(): Promise<BiscuitLib> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= load().then((lib) => { loaded = lib; return lib; }, (err: unknown) => { loading = undefined; throw err; });
  return loading;
}

/** The library when already loaded (hot paths), else undefined. */
export function biscuitLibLoaded(): BiscuitLib | undefined { return loaded; }

async function load(): Promise<BiscuitLib> {
  const entry = fileURLToPath(import.meta.resolve('@biscuit-auth/biscuit-wasm'));
  const dir = dirname(entry);
  const glue = await import(pathToFileURL(join(dir, 'biscuit_bg.js')).href) as BiscuitLib & { __wbg_set_wasm(w: unknown): void };
  const module = new WA.Module(readFileSync(join(dir, 'biscuit_bg.wasm')));
  const imports: Record<string, object> = {};
  for (const imp of WA.Module.imports(module)) {
    if (imports[imp.module]) continue;
    if (imp.module === './biscuit_bg.js') { imports[imp.module] = glue; continue; }
    if (!imp.module.startsWith('./snippets/')) throw new Error(`biscuit-wasm imports an unknown module ${imp.module}`);
    imports[imp.module] = await import(pathToFileURL(join(dir, imp.module)).href) as object;
  }
  const instance = new WA.Instance(module, imports);
  glue.__wbg_set_wasm(instance.exports);
  warmUp(glue);
  return glue;
}

function warmUp(lib: BiscuitLib): void {
  const kp = new lib.KeyPair(lib.SignatureAlgorithm.Ed25519);
  const b = lib.Biscuit.builder();
  b.addCode('u("a"); n(3); check if time($t), $t < 2999-01-01T00:00:00Z; check all r($s), {"a", "b"}.contains($s); check if n($x), $x < 5;');
  const token = b.build(kp.getPrivateKey());
  const blk = new lib.BlockBuilder();
  blk.addCode('check if time($t), $t > 2000-01-01T00:00:00Z;');
  const t2 = lib.Biscuit.fromBase64(token.appendBlock(blk).toBase64(), kp.getPublicKey());
  const ab = new lib.AuthorizerBuilder();
  ab.addCode(`time(${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}); r("a"); allow if u($x);`);
  ab.buildAuthenticated(t2).authorizeWithLimits(WARM_UP_LIMITS);
}
