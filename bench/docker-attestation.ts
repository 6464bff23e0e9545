/**
 * Docker workload attestation latency against a real Docker daemon (Debian's dockerd,
 * started as in the tests: test/helpers/dockerd.ts). 100 containers from one busybox
 * image, each with two labels and a name; one attestor, as an agent has, timed from
 * attest(pid) to its selectors (cgroup read + container inspect + image inspect):
 *
 *   sequential  every container once per round, one at a time (round 1 is each
 *               container's first attestation);
 *   concurrent  all 100 at once, as when many workloads call the agent together.
 *
 * p50 / p99 / max in ms. Every result is checked (the container's own name and instance)
 * so a fast wrong answer cannot count. The daemon, its containers and its temp dir are
 * removed at the end, also on error or Ctrl-C.
 *
 * Run: node --import tsx bench/docker-attestation.ts   (optional: BENCH_CONTAINERS=100 BENCH_ROUNDS=5)
 */
import { availableParallelism } from 'node:os';
import { dockerWorkloadAttestorFactory, type DockerAttestorConfig } from '../attestors/workload/docker.ts';
import type { WorkloadAttestor } from '../attestors/workload/types.ts';
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import { parseConfig } from '../common/config.ts';
import { readStartTime } from '../node-agent/peercred/proc.ts';
import { formatSelector } from '../spiffe/selector.ts';
import { Dockerd, dockerdUnavailable, type RunningContainer } from '../test/helpers/dockerd.ts';

const CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

interface Target extends RunningContainer { name: string }

/** One timed attestation, checked against the container it must name. */
async function timed(a: WorkloadAttestor, c: Target): Promise<number> {
  const startTime = readStartTime(c.pid);
  const t0 = performance.now();
  const r = await a.attest({ pid: c.pid, uid: 0, gid: 0, startTime });
  const ms = performance.now() - t0;
  if (r.instance?.key !== `docker:${c.id}` || !r.selectors.map(formatSelector).includes(`docker:container_name:${c.name}`)) {
    throw new Error(`wrong attestation for ${c.name}: ${JSON.stringify(r)}`);
  }
  return ms;
}

function report(label: string, ms: number[]): void {
  const s = [...ms].sort((x, y) => x - y);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  const f = (x: number) => x.toFixed(2).padStart(8);
  console.log(`  ${label.padEnd(44)} n=${String(s.length).padStart(4)}   p50 ${f(q(0.5))}   p99 ${f(q(0.99))}   max ${f(s.at(-1)!)}  ms`);
}

const why = dockerdUnavailable();
if (why) {
  console.error(`docker attestation bench: cannot run dockerd: ${why}`);
  process.exit(1);
}
const d = await Dockerd.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void d.stop().finally(() => process.exit(130)); });
try {
  const version = (await d.api('GET', '/version')).json as { Version: string; ApiVersion: string };
  console.log(`docker attestation bench: Node ${process.version}, ${availableParallelism()} CPUs, dockerd ${version.Version} (API ${version.ApiVersion}, vfs, cgroupfs), ${CONTAINERS} containers, ${ROUNDS} sequential rounds`);
  const image = await d.baseImage();
  const targets: Target[] = [];
  const t0 = performance.now();
  for (let i = 0; i < CONTAINERS; i++) {
    const name = `bench-${i}`;
    targets.push({ name, ...await d.run(undefined, { image, name, labels: { 'com.acme.role': 'researcher', index: String(i) } }) });
  }
  console.log(`  (${CONTAINERS} containers started in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const config = parseConfig(dockerWorkloadAttestorFactory.config, { socket_path: d.socketPath }) as DockerAttestorConfig;
  const a = dockerWorkloadAttestorFactory.create(config, { logger: silentLogger, clock: systemClock });
  const rounds: number[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ms: number[] = [];
    for (const c of targets) ms.push(await timed(a, c));
    rounds.push(ms);
  }
  const concurrent = await Promise.all(targets.map((c) => timed(a, c)));

  report('sequential, first attestation per container', rounds[0]!);
  report(`sequential, all ${ROUNDS} rounds`, rounds.flat());
  report(`concurrent, ${CONTAINERS} at once`, concurrent);
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await d.stop();
}
