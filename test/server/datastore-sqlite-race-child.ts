import { existsSync } from 'node:fs';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';

/**
 * One contender in the join-token race: its own process, its own connection to the
 * shared file. Each says "ready", spins until the parent creates the gate file, then
 * consumes the same tokens in the same order and prints what it got as JSON.
 */
const [path, gate, count] = process.argv.slice(2);
const store = SqliteDatastore.open({ path });
const tokens = Array.from({ length: Number(count) }, (_, i) => `race-${i}`);
process.stdout.write('ready\n');
while (!existsSync(gate)) { /* spin: start together */ }
const results: string[] = [];
for (const tok of tokens) results.push(await store.consumeJoinToken(tok, 1));
await store.close();
process.stdout.write('results ' + JSON.stringify(results) + '\n');
