import test from 'ava';
import { optDuration, runCli, UsageError, type CliIO, type Command } from '../../common/cli.ts';

/** The shared CLI framework (common/cli.ts), in-process with a captured IO. */
function io(): CliIO & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', env: {} as NodeJS.ProcessEnv } as CliIO & { stdout: string; stderr: string };
  o.out = (s) => { o.stdout += s + '\n'; };
  o.err = (s) => { o.stderr += s + '\n'; };
  return o;
}

const seen: { ttl?: number }[] = [];
const commands: Command[] = [
  { name: 'run', summary: 'a daemon', output: false, options: { config: { type: 'string', value: 'FILE', description: 'config' } }, async run() { return 0; } },
  {
    name: 'thing make', summary: 'make a thing',
    options: { ttl: { type: 'string', value: 'DURATION', description: 'lifetime' }, force: { type: 'boolean', description: 'force' } },
    async run(ctx) { seen.push({ ttl: optDuration(ctx.options, 'ttl') }); ctx.print({ ok: true }, () => 'made'); },
  },
  { name: 'thing show', summary: 'show a thing', positionals: '<ID>', async run(ctx) { ctx.print({ id: ctx.positionals[0] }, () => `thing ${ctx.positionals[0]}`); } },
  { name: 'thing fail', summary: 'fails', async run() { throw new UsageError('--x is required'); } },
];
const run = async (...argv: string[]) => { const x = io(); const code = await runCli('prog', commands, argv, x); return { code, ...x }; };

test('an unknown verb is an error even with --help (exit 2, "unknown verb")', async (t) => {
  for (const argv of [['nope', '--help'], ['thing', 'nope', '--help'], ['nope']]) {
    const r = await run(...argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, /unknown verb "(nope|thing nope)"/);
    t.is(r.stdout, '');
  }
});

test('--help on the program, a group and a verb exits 0; a group without a verb is a usage error', async (t) => {
  t.is((await run('--help')).code, 0);
  const g = await run('thing', '--help');
  t.is(g.code, 0);
  t.regex(g.stdout, /thing make/);
  const bare = await run('thing');
  t.is(bare.code, 2);
  t.regex(bare.stderr, /needs a verb: make, show, fail/);
  const h = await run('help', 'thing', 'make');
  t.is(h.code, 0);
  t.regex(h.stdout, /Usage: prog thing make \[options\]/);
});

test('parse errors name the flag in plain words', async (t) => {
  const unknown = await run('thing', 'make', '--bogus');
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /prog thing make: unknown flag --bogus\. Run "prog thing make --help"/);
  t.notRegex(unknown.stderr, /positional argument starting/);
  t.regex((await run('thing', 'make', '--ttl')).stderr, /--ttl needs a value/);
  t.regex((await run('thing', 'make', '--force=yes')).stderr, /--force is a switch and takes no value/);
  const extra = await run('thing', 'make', 'stray');
  t.is(extra.code, 2);
  t.regex(extra.stderr, /unexpected argument "stray"/);
});

test('duration flags take "90s", "5m", "1h" or seconds, and reject anything else naming the flag', async (t) => {
  seen.length = 0;
  for (const v of ['90s', '5m', '1h', '120']) t.is((await run('thing', 'make', '--ttl', v)).code, 0, v);
  t.deepEqual(seen.map((s) => s.ttl), [90, 300, 3600, 120]);
  const bad = await run('thing', 'make', '--ttl', '5 minutes');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--ttl must be a duration like "90s", "5m", "1h", "1d" or seconds, got "5 minutes"/);
});

test('a daemon verb offers no --output; others print JSON with --output json and exit non-zero on error', async (t) => {
  const help = await run('run', '--help');
  t.notRegex(help.stdout, /--output/);
  t.is((await run('run', '--output', 'json')).code, 2);
  t.deepEqual(JSON.parse((await run('thing', 'show', 'x', '--output', 'json')).stdout), { id: 'x' });
  const f = await run('thing', 'fail', '--output', 'json');
  t.is(f.code, 2);
  t.is(JSON.parse(f.stderr).error, '--x is required');
});

test('help --markdown renders every verb\'s help', async (t) => {
  const r = await run('help', '--markdown');
  t.is(r.code, 0);
  for (const c of commands) t.true(r.stdout.includes(`### prog ${c.name}\n`), c.name);
});

test('completion prints a bash script that completes verbs, then the verb\'s flags', async (t) => {
  const { completionCommand } = await import('../../common/cli.ts');
  const all: Command[] = [...commands];
  all.push(completionCommand('prog', () => all));
  const x = io();
  t.is(await runCli('prog', all, ['completion'], x), 0);
  const { execFileSync } = await import('node:child_process');
  const complete = (...words: string[]) => execFileSync('bash', ['-c',
    `${x.stdout}\nCOMP_WORDS=(prog ${words.map((w) => `"${w}"`).join(' ')}); COMP_CWORD=${words.length}; _prog; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' }).trim();
  t.is(complete('th'), 'thing');
  t.is(complete('thing', ''), 'make show fail');
  t.is(complete('thing', 'make', '--f'), '--force');
});
