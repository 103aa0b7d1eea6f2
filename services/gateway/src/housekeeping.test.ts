import { describe, expect, it } from 'vitest';

import { PacedSweep } from './housekeeping.ts';

function sweepOf(
  members: Set<number>,
  ticks: number,
): { sweep: PacedSweep<number>; seen: number[] } {
  const seen: number[] = [];
  return { sweep: new PacedSweep(members, ticks, (m) => seen.push(m)), seen };
}

describe('PacedSweep', () => {
  it('visits every member once per round, in slices of a round’s share', () => {
    const { sweep, seen } = sweepOf(new Set([1, 2, 3, 4, 5, 6, 7]), 3);

    const slices = [0, 1, 2].map(() => {
      const before = seen.length;
      sweep.tick();
      return seen.length - before;
    });

    expect(slices).toEqual([3, 2, 2]);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    sweep.tick();
    expect(seen.slice(7)).toEqual([1, 2, 3]);
  });

  it('skips members removed before their turn and reaches those added during the round', () => {
    const members = new Set([1, 2, 3, 4]);
    const { sweep, seen } = sweepOf(members, 2);

    sweep.tick();
    members.delete(3);
    for (const m of [5, 6, 7]) members.add(m);
    sweep.tick();

    expect(seen).toEqual([1, 2, 4, 5, 6, 7]);
  });

  it('spreads members that join an empty set over the ticks left, never in one burst', () => {
    const members = new Set<number>();
    const { sweep, seen } = sweepOf(members, 4);

    sweep.tick();
    for (let m = 0; m < 90; m++) members.add(m);
    const slices = [0, 1, 2].map(() => {
      const before = seen.length;
      sweep.tick();
      return seen.length - before;
    });

    expect(slices).toEqual([30, 30, 30]);
  });

  it('does nothing on an empty set', () => {
    const { sweep, seen } = sweepOf(new Set(), 4);
    for (let i = 0; i < 8; i++) sweep.tick();
    expect(seen).toEqual([]);
  });
});
