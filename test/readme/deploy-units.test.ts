import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/proc.ts';

/** The systemd units start the bins one way, the way docs/server.md#install installs them. */
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

for (const [name, unit, config] of [
  ['tessera-server', 'deploy/server/tessera-server.service', '/etc/tessera/server.yaml'],
  ['tessera-agent', 'deploy/agent/tessera-agent.service', '/etc/tessera/agent.yaml'],
] as const) {
  test(`${unit} runs /usr/local/bin/${name} run --config ${config}, the installed link docs/server.md creates`, (t) => {
    const exec = read(unit).split('\n').filter((l) => l.startsWith('ExecStart='));
    t.deepEqual(exec, [`ExecStart=/usr/local/bin/${name} run --config ${config}`]);
    t.true(read('docs/server.md').includes(`ln -sf /opt/tessera/bin/${name}.js`), 'docs/server.md links the bin');
  });
}
