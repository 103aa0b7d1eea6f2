import type { Cell } from '../scenarios/types.ts';
import type { SystemName } from '../systems/types.ts';
import type { ScenarioResult } from './results.ts';

/** A goal of issue #3, checked on same-run numbers. */
export interface GoalCheck {
  readonly goal: string;
  /** true / false, or null when a number was missing. */
  readonly holds: boolean | null;
  readonly detail: string;
}

interface Goal {
  readonly row: string;
  readonly against: SystemName;
  /** Ratio switchboard / other that must be reached (`min`) or not exceeded (`max`). */
  readonly min?: number;
  readonly max?: number;
  /** Absolute difference (switchboard − other) that must not be exceeded, in the row's unit. */
  readonly maxDelta?: number;
}

const GOALS: readonly Goal[] = [
  { row: 'fan-out', against: 'uws', min: 0.8 },
  { row: 'fan-out', against: 'ws', min: 5 },
  { row: 'fan-out', against: 'socketio', min: 10 },
  { row: 'idle RSS per connection', against: 'uws', max: 1.5 },
  { row: 'idle RSS per connection', against: 'ws', max: 0.5 },
  { row: 'latency p99 at 50 % of own max (NATS)', against: 'uws', maxDelta: 0.5 },
  { row: 'connect storm (unthrottled)', against: 'ws', min: 3 },
  { row: 'connect storm (unthrottled)', against: 'socketio', min: 5 },
];

function describe(goal: Goal): string {
  if (goal.min !== undefined) return `${goal.row}: switchboard ≥ ${goal.min} × ${goal.against}`;
  if (goal.max !== undefined) return `${goal.row}: switchboard ≤ ${goal.max} × ${goal.against}`;
  return `${goal.row}: switchboard within ${goal.maxDelta} of ${goal.against}`;
}

function check(goal: Goal, ours: Cell | undefined, theirs: Cell | undefined): GoalCheck {
  const name = describe(goal);
  if (typeof ours !== 'number' || typeof theirs !== 'number' || theirs === 0) {
    return {
      goal: name,
      holds: null,
      detail: `no comparable numbers (switchboard: ${ours ?? '—'}, ${goal.against}: ${theirs ?? '—'})`,
    };
  }
  if (goal.maxDelta !== undefined) {
    const delta = ours - theirs;
    return { goal: name, holds: delta <= goal.maxDelta, detail: `difference ${delta.toFixed(2)}` };
  }
  const ratio = ours / theirs;
  const holds = goal.min !== undefined ? ratio >= goal.min : ratio <= (goal.max ?? Infinity);
  return { goal: name, holds, detail: `ratio ${ratio.toFixed(2)}` };
}

/** Checks every goal against the rows of this run. */
export function checkGoals(results: readonly ScenarioResult[]): GoalCheck[] {
  return GOALS.map((goal) => {
    const row = results.find((r) => r.name === goal.row);
    return check(goal, row?.systems.switchboard, row?.systems[goal.against]);
  });
}
