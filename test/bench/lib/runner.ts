import type { Cell, Scenario, SharedResults } from '../scenarios/types.ts';
import type { SystemName, SystemUnderTest } from '../systems/types.ts';
import type { BenchContext } from './context.ts';
import type { ScenarioResult } from './results.ts';

/** Runs each scenario against each system; a failure becomes a cell with its reason, not a crash. */
export async function runScenarios(
  ctx: BenchContext,
  scenarios: readonly Scenario[],
  systems: readonly SystemUnderTest[],
): Promise<ScenarioResult[]> {
  const shared: SharedResults = { fanoutKnee: {} };
  const rows: ScenarioResult[] = [];
  for (const [index, scenario] of scenarios.entries()) {
    const cells = new Map<string, Partial<Record<SystemName, Cell>>>();
    const details: Partial<Record<SystemName, unknown>> = {};
    const notes = new Set<string>();
    for (const system of systems) {
      const set = (row: string, value: Cell): void => {
        cells.set(row, { ...cells.get(row), [system.name]: value });
      };
      const applies = !scenario.appliesTo || scenario.appliesTo.includes(system.name);
      const unavailable = applies ? system.unavailable() : 'not applicable';
      if (unavailable) {
        for (const row of scenario.rows)
          set(row.name, applies ? `unavailable: ${unavailable}` : 'n/a');
        continue;
      }
      ctx.progress(`[${index + 1}/${scenarios.length}] ${scenario.id}: ${system.name}`);
      const started = performance.now();
      try {
        const outcome = await scenario.run(ctx, system, shared);
        for (const row of scenario.rows) set(row.name, outcome.values[row.name] ?? 'not measured');
        for (const note of outcome.notes) notes.add(`${system.name}: ${note}`);
        details[system.name] = outcome.details;
      } catch (err) {
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        ctx.progress(`  ${system.name} failed: ${message}`);
        for (const row of scenario.rows) set(row.name, `failed: ${message.split('\n')[0]}`);
        details[system.name] = { error: message };
      }
      ctx.progress(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    for (const row of scenario.rows) {
      rows.push({
        name: row.name,
        scenario: scenario.id,
        unit: row.unit,
        better: row.better,
        systems: cells.get(row.name) ?? {},
        notes: [...notes].join(' | '),
        details,
      });
    }
  }
  return rows;
}
