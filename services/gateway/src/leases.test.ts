import { describe, expect, it } from 'vitest';

import type { LimitsClient } from '@switchboard/channel-authorizer';
import type { ConnectionLease } from '@switchboard/protocol';
import { createLogger } from '@switchboard/telemetry';

import { LeaseKeeper } from './leases.ts';

/** A limits client that records calls and fails when told to. */
function fakeClient() {
  const calls: string[] = [];
  let failing = false;
  let alive = true;
  const client = {
    acquire: (lease: ConnectionLease, limit: number) => {
      calls.push(`acquire ${lease.connectionId} ${limit}`);
      return failing
        ? Promise.reject(new Error('down'))
        : Promise.resolve({ ok: true as const, count: 1 });
    },
    release: (lease: ConnectionLease) => {
      calls.push(`release ${lease.connectionId}`);
      return failing ? Promise.reject(new Error('down')) : Promise.resolve();
    },
    heartbeat: () => (failing ? Promise.reject(new Error('down')) : Promise.resolve(alive)),
  };
  return {
    calls,
    client: client as unknown as LimitsClient,
    fail: (value: boolean) => (failing = value),
    forget: () => (alive = false),
  };
}

const lease = (id: string): ConnectionLease => ({
  account: 'acme.u-a',
  connectionId: id,
  gateway: 'gw-x',
});
const logger = createLogger('test', 'silent');

describe('LeaseKeeper', () => {
  it('retries a release that failed on the next heartbeat', async () => {
    const fake = fakeClient();
    const keeper = new LeaseKeeper(fake.client, 'gw-x', logger);
    await keeper.acquire(lease('c1'), 5);
    fake.fail(true);
    keeper.release(lease('c1'));
    await new Promise((resolve) => setImmediate(resolve));
    fake.fail(false);
    await keeper.heartbeat();
    expect(fake.calls).toEqual(['acquire c1 5', 'release c1', 'release c1']);
  });

  it('releases a slot whose acquire may have landed after it timed out', async () => {
    const fake = fakeClient();
    const keeper = new LeaseKeeper(fake.client, 'gw-x', logger);
    await keeper.heartbeat();
    fake.fail(true);
    await expect(keeper.acquire(lease('c1'), 5)).rejects.toThrow('down');
    fake.fail(false);
    await keeper.heartbeat();
    expect(fake.calls.at(-1)).toBe('release c1');
  });

  it('registers its connections again when the ledger dropped the instance', async () => {
    const fake = fakeClient();
    const keeper = new LeaseKeeper(fake.client, 'gw-x', logger);
    await keeper.heartbeat();
    await keeper.acquire(lease('c1'), 5);
    fake.forget();
    await keeper.heartbeat();
    expect(fake.calls.at(-1)).toBe(`acquire c1 ${Number.MAX_SAFE_INTEGER}`);
  });
});
