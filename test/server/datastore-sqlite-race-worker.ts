import { parentPort, workerData } from 'node:worker_threads';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';

/**
 * One contender in the join-token race: its own thread, its own connection to the
 * shared file. Waits on a shared flag so both threads start consuming together.
 */
const { path, tokens, flag } = workerData as { path: string; tokens: string[]; flag: SharedArrayBuffer };
const store = SqliteDatastore.open({ path });
const gate = new Int32Array(flag);
Atomics.add(gate, 1, 1);
Atomics.wait(gate, 0, 0);
const results: string[] = [];
for (const tok of tokens) results.push(await store.consumeJoinToken(tok, 1));
await store.close();
parentPort!.postMessage(results);
