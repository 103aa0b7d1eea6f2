import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { SystemName } from '../systems/types.ts';
import { formatCell, type ScenarioResult } from './results.ts';

const COLOURS: Record<SystemName, string> = {
  switchboard: '#2f6fdf',
  uws: '#2a9d55',
  ws: '#d98a1f',
  socketio: '#b0413e',
};
const WIDTH = 760;
const LABEL = 130;
const BAR = 18;
const GAP = 6;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One group of bars: a row's value per system, scaled to the row's largest number. */
function group(
  row: ScenarioResult,
  systems: readonly SystemName[],
  top: number,
): { svg: string; height: number } {
  const numbers = systems
    .map((s) => row.systems[s])
    .filter((v): v is number => typeof v === 'number');
  const scale = Math.max(...numbers, 1);
  const parts = [
    `<text x="8" y="${top + 14}" font-weight="bold">${escape(`${row.name} (${row.unit}, ${row.better} is better)`)}</text>`,
  ];
  let y = top + 24;
  for (const system of systems) {
    const value = row.systems[system];
    const width =
      typeof value === 'number' ? Math.max(1, ((WIDTH - LABEL - 140) * value) / scale) : 0;
    parts.push(`<text x="8" y="${y + 13}">${system}</text>`);
    if (width > 0)
      parts.push(
        `<rect x="${LABEL}" y="${y}" width="${width.toFixed(1)}" height="${BAR}" fill="${COLOURS[system]}"/>`,
      );
    parts.push(`<text x="${LABEL + width + 6}" y="${y + 13}">${escape(formatCell(value))}</text>`);
    y += BAR + GAP;
  }
  return { svg: parts.join('\n'), height: y - top + 10 };
}

/** Writes one hand-made SVG bar chart per scenario into `dir`; returns the file paths. */
export function writeCharts(
  dir: string,
  rows: readonly ScenarioResult[],
  systems: readonly SystemName[],
): string[] {
  mkdirSync(dir, { recursive: true });
  const byScenario = new Map<string, ScenarioResult[]>();
  for (const row of rows)
    byScenario.set(row.scenario, [...(byScenario.get(row.scenario) ?? []), row]);

  const written: string[] = [];
  for (const [scenario, scenarioRows] of byScenario) {
    let top = 30;
    const groups: string[] = [];
    for (const row of scenarioRows) {
      const g = group(row, systems, top);
      groups.push(g.svg);
      top += g.height;
    }
    const svg = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${top}" font-family="sans-serif" font-size="12">`,
      `<rect width="100%" height="100%" fill="white"/>`,
      `<text x="8" y="18" font-size="14" font-weight="bold">${escape(scenario)}</text>`,
      ...groups,
      '</svg>',
    ].join('\n');
    const path = join(dir, `${scenario}.svg`);
    writeFileSync(path, `${svg}\n`);
    written.push(path);
  }
  return written;
}

/** Copies the flame graphs a run drew (see flamegraph.ts) from its artefacts to the charts. */
export function copyFlameGraphs(artefactDir: string, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const names = readdirSync(artefactDir).filter(
    (f) => f.startsWith('flame-') && f.endsWith('.svg'),
  );
  for (const name of names) copyFileSync(join(artefactDir, name), join(dir, name));
  return names.map((name) => join(dir, name));
}
