// Preloaded into a process under measurement (NODE_OPTIONS="--expose-gc --import <this>"):
// on SIGUSR2 it collects garbage, then writes process.memoryUsage() as JSON to
// $BENCH_MEMORY_FILE. On SIGWINCH it writes a heap snapshot to $BENCH_HEAP_SNAPSHOT
// (a separate signal: writing a snapshot inflates RSS).
import { writeFileSync, renameSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

process.on('SIGUSR2', () => {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  const out = process.env.BENCH_MEMORY_FILE;
  if (out) {
    writeFileSync(`${out}.tmp`, JSON.stringify(process.memoryUsage()));
    renameSync(`${out}.tmp`, out);
  }
});

process.on('SIGWINCH', () => {
  const snap = process.env.BENCH_HEAP_SNAPSHOT;
  if (!snap) return;
  writeHeapSnapshot(`${snap}.tmp`);
  renameSync(`${snap}.tmp`, snap);
});
