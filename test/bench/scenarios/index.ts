import { fanout } from './fanout.ts';
import { idle } from './idle.ts';
import { ingress } from './ingress.ts';
import { latency } from './latency.ts';
import { manyTopics } from './many-topics.ts';
import { slowConsumers } from './slow.ts';
import { storm } from './storm.ts';
import type { Scenario } from './types.ts';

/** Every scenario, in run order; latency and slow consumers use the fan-out maximum, so they follow it. */
export const SCENARIOS: readonly Scenario[] = [
  idle,
  fanout,
  manyTopics,
  latency,
  storm,
  slowConsumers,
  ingress,
];
