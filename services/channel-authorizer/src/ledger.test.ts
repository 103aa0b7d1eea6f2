import { describe, expect, it } from 'vitest';

import { admit, MemoryLedger, withoutConnection } from './ledger.ts';

const lease = (connectionId: string, gateway = 'gw-a') => ({
  account: 'acme.u-alice',
  connectionId,
  gateway,
});

describe('admit', () => {
  it('admits up to the limit and no further', () => {
    let state = {};
    for (const id of ['c1', 'c2']) state = admit(state, lease(id), 2, () => true).state!;
    expect(admit(state, lease('c3'), 2, () => true)).toEqual({ state: undefined, count: 2 });
  });

  it('is idempotent for a connection it already counts', () => {
    const { state } = admit({}, lease('c1'), 1, () => true);
    expect(admit(state!, lease('c1'), 1, () => true).state).toEqual({ 'gw-a': ['c1'] });
  });

  it('forgets the connections of instances that stopped beating', () => {
    const state = { 'gw-dead': ['c1', 'c2'] };
    const result = admit(state, lease('c3', 'gw-b'), 2, (gateway) => gateway !== 'gw-dead');
    expect(result).toEqual({ state: { 'gw-b': ['c3'] }, count: 1 });
  });

  it('removes a released connection and empty instances', () => {
    expect(withoutConnection({ 'gw-a': ['c1'] }, lease('c1'))).toEqual({});
  });
});

describe('MemoryLedger', () => {
  it('frees a slot on release', async () => {
    const ledger = new MemoryLedger();
    expect((await ledger.acquire(lease('c1'), 1)).granted).toBe(true);
    expect((await ledger.acquire(lease('c2'), 1)).granted).toBe(false);
    await ledger.release(lease('c1'));
    expect((await ledger.acquire(lease('c2'), 1)).granted).toBe(true);
  });
});
