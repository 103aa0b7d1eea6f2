import type { BenchContext } from '../lib/context.ts';
import type { SystemName, SystemUnderTest } from '../systems/types.ts';

/** A table cell: a measured number, or the reason there is none ("unavailable: ...", "invalid: ..."). */
export type Cell = number | string;

/** One row of the results table, e.g. "fan-out" in deliveries/s. */
export interface Row {
  readonly name: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
}

/** What one system produced in one scenario. */
export interface Outcome {
  /** By row name. */
  readonly values: Record<string, Cell>;
  readonly notes: readonly string[];
  readonly details: unknown;
}

/** Results scenarios hand to later ones, e.g. each system's fan-out knee for the latency runs. */
export interface SharedResults {
  /** Highest zero-loss publish rate (messages/s) per system in the fan-out scenario. */
  readonly fanoutKnee: Partial<Record<SystemName, number>>;
}

/** A benchmark scenario, run once per system. */
export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly rows: readonly Row[];
  /** Systems it applies to; omitted: all. */
  readonly appliesTo?: readonly SystemName[];
  run(ctx: BenchContext, system: SystemUnderTest, shared: SharedResults): Promise<Outcome>;
}

/** A cell that marks a run as not being a result, with its reason. */
export function invalid(reason: string): string {
  return `invalid: ${reason}`;
}
