/**
 * Runs one examples/delegation program as the SPIFFE ID named in DEMO_SPIFFE_ID.
 *
 *   DEMO_SPIFFE_ID=spiffe://example.org/agents/planner node --import tsx deploy/demo/as-workload.ts examples/delegation/agent-a.ts
 *
 * The demo runs every workload under your own uid (it needs no root), so the node agent
 * hands each of its processes the SVIDs of all the demo's entries. Here every
 * X509Source the program creates picks the named one (X509Source's `picker` option),
 * after waiting until the agent has it. In a real deployment each workload runs under
 * its own uid or container and is given exactly its own identity.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { X509Source, type X509SourceOptions } from '../../spiffe/index.ts';

const id = process.env.DEMO_SPIFFE_ID;
const script = process.argv[2];
if (!id || !script) {
  console.error(JSON.stringify({ msg: 'usage: DEMO_SPIFFE_ID=<spiffe id> as-workload.ts <program.ts>' }));
  process.exit(64);
}

const create = X509Source.create.bind(X509Source);
X509Source.create = async (o: X509SourceOptions = {}) => {
  const source = await create({ picker: (svids) => svids.find((s) => s.id.toString() === id), ...o });
  // An entry created a moment ago may reach the agent after the stream's first answer.
  while (!source.getX509Svids().some((s) => s.id.toString() === id)) await new Promise<void>((r) => { const off = source.onUpdate(() => { off(); r(); }); });
  return source;
};

await import(pathToFileURL(resolve(script)).href);
