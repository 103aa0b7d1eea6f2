import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildLoadgen } from './lib/loadgen.ts';
import type { BenchContext, CpuPlan } from './lib/context.ts';
import { checkGoals } from './lib/goals.ts';
import { isolateServerCore, type Isolation } from './lib/isolate.ts';
import { describeMachine } from './lib/machine.ts';
import { requireNatsServer, startNats } from './lib/nats-server.ts';
import { parseOptions, type RunOptions } from './lib/options.ts';
import { requireFreePorts } from './lib/ports.ts';
import { Publisher } from './lib/publish.ts';
import { renderTable, writeResults, type BenchResults } from './lib/results.ts';
import { runScenarios } from './lib/runner.ts';
import { sizesFor, type Sizes } from './lib/sizes.ts';
import { copyFlameGraphs, writeCharts } from './lib/svg.ts';
import { SCENARIOS } from './scenarios/index.ts';
import { allSystems } from './systems/registry.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** Server on one core, everything else on another; unpinned on a single-core machine. */
function planCpus(warnings: string[]): CpuPlan {
  const cores = Number(execFileSync('nproc', { encoding: 'utf8' }));
  if (cores < 2) {
    warnings.push('single core: nothing pinned, server and load share the CPU');
    return { server: undefined, load: undefined };
  }
  const plan = {
    server: process.env.BENCH_SERVER_CPU ?? '1',
    load: process.env.BENCH_LOAD_CPUS ?? '0',
  };
  // The runner itself (polling, bookkeeping) belongs on the load side too.
  execFileSync('taskset', ['-pc', plan.load, String(process.pid)], { stdio: 'ignore' });
  return plan;
}

async function main(): Promise<number> {
  const started = performance.now();
  const options = parseOptions(process.argv.slice(2), BENCH_DIR);
  const sizes = sizesFor(options.mode);
  const warnings: string[] = [];
  const natsVersion = requireNatsServer();
  buildLoadgen();
  const ports = {
    nats: options.portBase,
    natsMonitor: options.portBase + 1,
    server: options.portBase + 2,
    publisher: options.portBase + 3,
    ingressPublisher: options.portBase + 4,
  };
  await requireFreePorts(ports);
  const cpus = planCpus(warnings);
  const isolation =
    // Not for a smoke run, which checks correctness only and runs beside other tests.
    options.isolate &&
    options.mode !== 'smoke' &&
    cpus.server !== undefined &&
    cpus.load !== undefined
      ? isolateServerCore(cpus.server, cpus.load)
      : undefined;
  try {
    return await measure({
      started,
      options,
      sizes,
      warnings,
      natsVersion,
      ports,
      cpus,
      isolation,
    });
  } finally {
    isolation?.restore();
  }
}

/** What `main` checked and set up before measuring. */
interface Prepared {
  readonly started: number;
  readonly options: RunOptions;
  readonly sizes: Sizes;
  readonly warnings: string[];
  readonly natsVersion: string;
  readonly ports: Readonly<
    Record<'nats' | 'natsMonitor' | 'server' | 'publisher' | 'ingressPublisher', number>
  >;
  readonly cpus: CpuPlan;
  readonly isolation: Isolation | undefined;
}

async function measure(prepared: Prepared): Promise<number> {
  const { started, options, sizes, warnings, natsVersion, ports, cpus, isolation } = prepared;
  if (isolation && isolation.moved.length === 0 && isolation.refused > 0) {
    warnings.push(
      `no kernel thread could be moved off the server core (that needs CAP_SYS_NICE); ${isolation.refused} may run there`,
    );
  }
  const machine = describeMachine(
    natsVersion,
    `server: ${cpus.server ?? 'any'}, load: ${cpus.load ?? 'any'}` +
      (isolation ? `, ${isolation.moved.length} kernel threads moved off the server core` : ''),
  );
  if (machine.openFileLimit.hard < 1_048_576) {
    warnings.push(
      `open-file hard limit is ${machine.openFileLimit.hard} and cannot be raised here (no CAP_SYS_RESOURCE); runs are capped below that many connections`,
    );
  }

  const nats = await startNats(ports.nats, ports.natsMonitor, cpus.load);
  const publisher = await Publisher.start(cpus.load);
  if (!publisher.httpRealtime) {
    warnings.push(
      'the HTTP publisher (sbhttp) could not take a real-time priority (no CAP_SYS_NICE): other processes on the load core can delay its sends, which counts as ingress latency',
    );
  }
  const systems = allSystems().filter((s) => options.systems.includes(s.name));
  const scenarios = SCENARIOS.filter(
    (s) => options.scenarios.length === 0 || options.scenarios.includes(s.id),
  );
  const ctx: BenchContext = {
    nats,
    cpus,
    sizes,
    serverPort: ports.server,
    publisherPort: ports.publisher,
    ingressPublisherPort: ports.ingressPublisher,
    artefactDir: mkdtempSync(join(tmpdir(), 'switchboard-bench-')),
    cpuProfile: options.cpuProfile,
    profileServices: options.profileServices,
    heapSnapshot: options.heapSnapshot,
    publisher,
    progress: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
  };
  ctx.progress(
    `bench ${options.mode}: ${scenarios.map((s) => s.id).join(', ')} × ${systems.map((s) => s.name).join(', ')}`,
  );
  for (const w of warnings) ctx.progress(`warning: ${w}`);

  let rows;
  try {
    rows = await runScenarios(ctx, scenarios, systems);
  } finally {
    for (const system of systems) await system.close();
    await publisher.stop();
    await nats.process.stop();
  }

  const results: BenchResults = {
    machine,
    mode: options.mode,
    startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
    durationS: Math.round((performance.now() - started) / 100) / 10,
    scenarios: rows,
    goals: checkGoals(rows),
    warnings,
    isolation: isolation && { moved: isolation.moved, refused: isolation.refused },
  };
  writeResults(options.out, results);
  if (options.mode !== 'smoke') {
    writeCharts(options.chartDir, rows, options.systems);
    copyFlameGraphs(ctx.artefactDir, options.chartDir);
  }
  process.stdout.write(`\n${renderTable(rows, options.systems)}\n\n`);
  for (const g of results.goals)
    process.stdout.write(
      `goal ${g.holds === null ? '?' : g.holds ? '✓' : '✗'} ${g.goal} (${g.detail})\n`,
    );
  process.stdout.write(
    `\nresults: ${options.out}  artefacts: ${ctx.artefactDir}  (${results.durationS} s)\n`,
  );
  if (options.mode !== 'smoke') return 0;
  // The smoke run checks correctness only: latency and CPU depend on what else the CI
  // machine is doing, so a slow or generator-bound step is not a failure here.
  const broken = rows.flatMap((r) =>
    Object.entries(r.systems)
      .filter(([, v]) => typeof v === 'string' && CORRECTNESS_PROBLEM.test(v))
      .map(([s, v]) => `${r.name}/${s}: ${v}`),
  );
  for (const b of broken) process.stderr.write(`smoke failure: ${b}\n`);
  return broken.length === 0 ? 0 : 1;
}

/** Problems that mean events went missing, doubled, reordered or broke; see lib/step.ts. */
const CORRECTNESS_PROBLEM =
  /lost \d+|more than published|out of order|sequence gaps|duplicates|malformed|fast clients closed|publish errors/;

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
