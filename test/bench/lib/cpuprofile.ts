import { readFileSync } from 'node:fs';

/** A node of a V8 `.cpuprofile` call tree. */
export interface ProfileNode {
  readonly id: number;
  readonly hitCount?: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

/** A V8 `.cpuprofile`, as the inspector's `Profiler.stop` and `node --cpu-prof` write it. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
}

/** One function's share of the samples in a V8 CPU profile. */
export interface SelfTime {
  readonly fn: string;
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

/** A source URL from its `node_modules/`, `services/`, `libs/` or `test/` folder on. */
export function shortUrl(url: string): string {
  const at = url.search(/(node_modules|services|libs|test)\//);
  return at >= 0 ? url.slice(at) : url.replace(/^file:\/\//, '');
}

/** The functions with the most self time in a `.cpuprofile`, highest first; shares are of busy (non-idle) samples. */
export function topSelfTime(path: string, limit = 15): SelfTime[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const allSamples = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
  const msPerSample =
    allSamples > 0 ? (profile.endTime - profile.startTime) / 1000 / allSamples : 0;
  const idle = profile.nodes
    .filter((n) => n.callFrame.functionName === '(idle)')
    .reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const totalSamples = allSamples - idle;
  const byFunction = new Map<string, { fn: string; where: string; hits: number }>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    const fn = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const entry = byFunction.get(key) ?? { fn, where, hits: 0 };
    entry.hits += node.hitCount ?? 0;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, limit)
    .map((e) => ({
      fn: e.fn,
      where: e.where,
      selfMs: Math.round(e.hits * msPerSample),
      share: totalSamples > 0 ? e.hits / totalSamples : 0,
    }));
}
