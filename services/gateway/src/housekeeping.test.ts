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
  /** Ticks one whole round; returns the members visited in it. */
  const round = (): number[] => {
    const before = seen.length;
    for (let i = 0; i < ticks; i++) tick();
    return seen.slice(before);
  };
  return { tick, round, seen };
}

describe('PacedSweep', () => {
  it('visits members from the round after the one they joined in, once per round, in slices', () => {
    const { tick, round } = sweepOf(new Set([1, 2, 3, 4, 5, 6, 7]), 3);

    expect(round()).toEqual([]);
    expect([tick(), tick(), tick()]).toEqual([3, 2, 2]);
    expect(round()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('skips members removed before their turn and leaves those who joined later for later', () => {
    const members = new Set([1, 2, 3, 4]);
    const { tick, round, seen } = sweepOf(members, 2);
    round();

    tick();
    members.delete(3);
    members.add(5);
    tick();
    expect(seen).toEqual([1, 2, 4]);

    expect(round()).toEqual([1, 2, 4]);
    expect(round()).toEqual([1, 2, 4, 5]);
  });

  it('spreads members that joined an empty set over the ticks of a round, never in one burst', () => {
    const members = new Set<number>();
    const { tick, round } = sweepOf(members, 3);

    tick();
    for (let m = 1; m <= 90; m++) members.add(m);
    tick();
    tick();
    round();

    expect([tick(), tick(), tick()]).toEqual([30, 30, 30]);
  });
});
