/** How big each scenario is; `quick` fits a 2-core laptop, `full` is the documented run. */
export interface Sizes {
  readonly mode: 'smoke' | 'quick' | 'full';
  readonly idleConns: number;
  /**
   * How old the server must be before the idle scenario's baseline reading (a warm-up wave
   * of a tenth of the connections has opened and closed by then), and how long it rests
   * after the last connection before the second; after each wait its RSS must also hold
   * steady for `idleSteadyS`. V8's memory reducer gives memory back about 8 s after a busy
   * period: 10 MB of the uws baseline's at 8.5 s after it started, in four runs, which a
   * baseline taken earlier would count as a saving of the connections.
   */
  readonly idleBaselineAgeS: number;
  readonly idleRestS: number;
  /**
   * How long each idle reading waits after its forced GC before it reads RSS, and then how
   * long RSS must hold steady: the pages the collection frees, which V8 unmaps from another
   * thread, and what the gateway's trim after a major collection gives back, must be gone.
   */
  readonly idleAfterGcS: number;
  readonly idleAfterGcSteadyS: number;
  /** 0: no steadiness check (smoke runs). */
  readonly idleSteadyS: number;
  /** How long idle CPU is measured. */
  readonly idleCpuS: number;
  readonly fanoutSubscribers: number;
  readonly probes: number;
  /** First publish rate (messages/s) of the fan-out search, then doubled. */
  readonly fanoutStartRate: number;
  readonly fanoutMaxSteps: number;
  readonly stepS: number;
  readonly manyTopicsConns: number;
  readonly manyTopicsRate: number;
  readonly manyTopicsMaxSteps: number;
  readonly latencyStepS: number;
  readonly stormConns: number;
  readonly stormRates: readonly number[];
  readonly slowShare: number;
  readonly slowStepS: number;
  readonly ingressRates: readonly number[];
  readonly ingressStepS: number;
  /**
   * The ingress scenario's unrecorded first step: it opens the client's sockets and gives V8
   * time to optimise the publish path. After 1 s the recorded steps still had stalls of 3–15 ms,
   * V8 compiling on the one core the publisher has.
   */
  readonly ingressWarmUpS: number;
  readonly padBytes: number;
}

const QUICK: Sizes = {
  mode: 'quick',
  idleConns: 2000,
  idleBaselineAgeS: 9,
  idleRestS: 1,
  idleAfterGcS: 0.3,
  idleAfterGcSteadyS: 0,
  idleSteadyS: 1,
  idleCpuS: 1,
  fanoutSubscribers: 1000,
  probes: 20,
  // Socket.IO's knee is 50–75 msg/s, and some runs' first step at 50 failed: a first step
  // above its knee would leave it no result.
  fanoutStartRate: 25,
  fanoutMaxSteps: 10,
  // 1 s steps, 1,000 many-topics connections, waves of 1,500, 0.6 s latency points and 1 s
  // of slow consumers keep the whole quick run under 3 minutes with the idle scenario's
  // waits for a steady baseline (about 60 s of it), the fan-out's reruns and every
  // system's latency and slow-consumer runs: 177 s on the 2-core machine of
  // docs/performance.md with 1.2 s of slow consumers.
  stepS: 1,
  manyTopicsConns: 1000,
  manyTopicsRate: 2000,
  manyTopicsMaxSteps: 1,
  latencyStepS: 0.6,
  stormConns: 1500,
  stormRates: [1000],
  slowShare: 0.1,
  slowStepS: 1,
  ingressRates: [250, 500, 1000, 2000, 4000],
  ingressStepS: 1.5,
  ingressWarmUpS: 3,
  padBytes: 100,
};

const FULL: Sizes = {
  mode: 'full',
  idleConns: 19_000,
  idleBaselineAgeS: 10,
  idleRestS: 3,
  idleAfterGcS: 3,
  idleAfterGcSteadyS: 2,
  idleSteadyS: 2,
  idleCpuS: 10,
  fanoutSubscribers: 10_000,
  probes: 100,
  fanoutStartRate: 10,
  fanoutMaxSteps: 12,
  stepS: 10,
  manyTopicsConns: 10_000,
  manyTopicsRate: 1000,
  manyTopicsMaxSteps: 8,
  latencyStepS: 10,
  stormConns: 10_000,
  stormRates: [1000, 5000],
  slowShare: 0.1,
  slowStepS: 20,
  ingressRates: [250, 500, 1000, 2000, 5000, 10_000, 20_000, 40_000],
  ingressStepS: 10,
  ingressWarmUpS: 10,
  padBytes: 100,
};

const SMOKE: Sizes = {
  ...QUICK,
  mode: 'smoke',
  idleConns: 50,
  idleBaselineAgeS: 0,
  idleRestS: 0.2,
  idleAfterGcS: 0,
  idleAfterGcSteadyS: 0,
  idleSteadyS: 0,
  idleCpuS: 1,
  fanoutSubscribers: 50,
  probes: 5,
  fanoutStartRate: 100,
  fanoutMaxSteps: 1,
  stepS: 0.5,
  manyTopicsConns: 50,
  manyTopicsRate: 200,
  manyTopicsMaxSteps: 1,
  stormConns: 50,
  ingressRates: [200],
  ingressStepS: 0.5,
  ingressWarmUpS: 0.5,
};

/** The sizes for a mode name. */
export function sizesFor(mode: Sizes['mode']): Sizes {
  return mode === 'full' ? FULL : mode === 'smoke' ? SMOKE : QUICK;
}
