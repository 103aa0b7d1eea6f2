import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import type { Cell } from '../scenarios/types.ts';
import type { SystemName } from '../systems/types.ts';
import type { GoalCheck } from './goals.ts';
import type { MachineInfo } from './machine.ts';

/** One row of the results file. */
export interface ScenarioResult {
  readonly name: string;
  readonly scenario: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly systems: Partial<Record<SystemName, Cell>>;
  readonly notes: string;
  readonly details: Partial<Record<SystemName, unknown>>;
}

/** The whole results file, `$BENCH_OUT`. */
export interface BenchResults {
  readonly machine: MachineInfo;
  readonly mode: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly scenarios: readonly ScenarioResult[];
  readonly goals: readonly GoalCheck[];
  readonly warnings: readonly string[];
  /** Kernel threads moved off the server core for the run (see lib/isolate.ts); absent with `--no-isolate`. */
  readonly isolation?: { readonly moved: readonly string[]; readonly refused: number };
}

/** Writes the results as JSON, creating the directory. */
export function writeResults(path: string, results: BenchResults): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** Formats a cell for the table: numbers with thousands separators, reasons cut short. */
export function formatCell(cell: Cell | undefined): string {
  if (cell === undefined) return '—';
  if (typeof cell === 'number')
    return cell >= 100 ? Math.round(cell).toLocaleString('en-US') : String(cell);
  return cell.length > 38 ? `${cell.slice(0, 37)}…` : cell;
}

/** The results as a fixed-width text table. */
export function renderTable(
  scenarios: readonly ScenarioResult[],
  systems: readonly SystemName[],
): string {
  const header = ['scenario', 'unit', ...systems];
  const rows = scenarios.map((s) => [
    s.name,
    s.unit,
    ...systems.map((name) => formatCell(s.systems[name])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
