import type { BenchNats } from './nats-server.ts';
import type { Publisher } from './publish.ts';
import type { Sizes } from './sizes.ts';

/** Cores for the server under test and for everything else (generator, NATS, publisher). */
export interface CpuPlan {
  readonly server: string | undefined;
  readonly load: string | undefined;
}

/** What every scenario gets: the bench NATS, ports, cores, sizes, and a progress line. */
export interface BenchContext {
  readonly nats: BenchNats;
  readonly cpus: CpuPlan;
  readonly sizes: Sizes;
  /** Port the system under test listens on (one at a time). */
  readonly serverPort: number;
  /** Port of Switchboard's HTTP publisher. */
  readonly publisherPort: number;
  /** Port of the publisher the ingress scenario starts on the server core. */
  readonly ingressPublisherPort: number;
  /** Directory for CPU profiles and other artefacts of this run. */
  readonly artefactDir: string;
  readonly cpuProfile: boolean;
  /** Switchboard's support services write `.cpuprofile` files into `artefactDir` when they stop. */
  readonly profileServices: boolean;
  /** The idle scenario writes `idle-<system>-{before,after}.heapsnapshot` into `artefactDir`. */
  readonly heapSnapshot: boolean;
  readonly publisher: Publisher;
  progress(line: string): void;
}
