import { describe, expect, it } from 'vitest';

import type { CpuProfile } from './cpuprofile.ts';
import { flameGraphSvg } from './flamegraph.ts';

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });

/** root → main (2 samples) → { deliver ×2 call sites (3 + 1), publish (4) }, idle 10. */
const PROFILE: CpuProfile = {
  startTime: 0,
  endTime: 20_000,
  samples: new Array<number>(20).fill(1),
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 6] },
    {
      id: 2,
      callFrame: frame('main', 'file:///x/services/gateway/src/main.ts'),
      hitCount: 2,
      children: [3, 4, 5],
    },
    { id: 3, callFrame: frame('deliver', 'file:///x/services/gateway/src/topics.ts'), hitCount: 3 },
    { id: 4, callFrame: frame('deliver', 'file:///x/services/gateway/src/topics.ts'), hitCount: 1 },
    { id: 5, callFrame: frame('publish'), hitCount: 4 },
    { id: 6, callFrame: frame('(idle)'), hitCount: 10 },
  ],
};

/** The width of the rectangle whose hover text starts with `label`. */
function widthOf(svg: string, label: string): number {
  const match = new RegExp(`<title>${label} [^<]*</title><rect [^>]*width="([0-9.]+)"`).exec(svg);
  if (!match) throw new Error(`no frame ${label}`);
  return Number(match[1]);
}

describe('flame graph', () => {
  const svg = flameGraphSvg(PROFILE, 'test');

  it('draws each frame as wide as its share of the busy samples, idle left out', () => {
    expect(widthOf(svg, 'main')).toBeCloseTo(1200 - 0.5, 0);
    expect(widthOf(svg, 'publish')).toBeCloseTo(1200 * 0.4 - 0.5, 0);
  });

  it('merges the call sites of one function in one caller', () => {
    expect(svg.match(/<title>deliver /g)).toHaveLength(1);
    expect(widthOf(svg, 'deliver')).toBeCloseTo(1200 * 0.4 - 0.5, 0);
    expect(svg).not.toContain('(idle)');
  });

  it('tells our code from native code', () => {
    expect(svg).toMatch(/<title>deliver [^<]*<\/title><rect [^>]*fill="#4f86e8"/);
    expect(svg).toMatch(/<title>publish [^<]*<\/title><rect [^>]*fill="#e0624f"/);
  });
});
