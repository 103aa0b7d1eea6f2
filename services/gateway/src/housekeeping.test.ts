import { describe, expect, it } from 'vitest';

import { PacedSweep } from './housekeeping.ts';

/** Members are numbers that join in increasing order, so a member is its own join order. */
function sweepOf(members: Set<number>, ticks: number) {
  const seen: number[] = [];
  const sweep = new PacedSweep(
    members,
    ticks,
    (m) => m,
    (m) => seen.push(m),
  );
  const tick = (): number => {
    const before = seen.length;
    sweep.tick(Math.max(0, ...members));
    return seen.length - before;
  };
  return { tick, seen };
}

describe('PacedSweep', () => {
  it('visits every member once per round, spread evenly over its ticks', () => {
    const { tick, seen } = sweepOf(new Set([1, 2, 3, 4, 5, 6, 7]), 3);

    expect([tick(), tick(), tick()]).toEqual([2, 2, 3]);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    tick();
    expect(seen.slice(7)).toEqual([1, 2]);
  });

  it('visits a few members late in the round, not all at its start', () => {
    const { tick } = sweepOf(new Set([1, 2]), 10);

    expect(Array.from({ length: 10 }, tick)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  });

  it('skips members removed before their turn and leaves those who joined later for the next round', () => {
    const members = new Set([1, 2, 3, 4]);
    const { tick, seen } = sweepOf(members, 2);

    tick();
    members.delete(3);
    members.add(5);
    tick();
    expect(seen).toEqual([1, 2, 4]);

    tick();
    tick();
    expect(seen.slice(3)).toEqual([1, 2, 4, 5]);
  });

  it('spreads members that joined an empty set over the next round, never in one burst', () => {
    const members = new Set<number>();
    const { tick } = sweepOf(members, 3);

    tick();
    for (let m = 1; m <= 90; m++) members.add(m);

    expect([tick(), tick(), tick(), tick(), tick()]).toEqual([0, 0, 30, 30, 30]);
  });
});
