import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { NatsBus } from '@switchboard/bus';
import { KvLedger } from '@switchboard/channel-authorizer';

import { startNats, type NatsServer } from '../harness/nats.ts';

const LEASE_MS = 1_500;

describe('KvLedger on JetStream KV', () => {
  let nats: NatsServer;
  let buses: NatsBus[];
  let replicas: KvLedger[];

  beforeAll(async () => {
    nats = await startNats();
    buses = await Promise.all(
      ['a', 'b'].map((name) => NatsBus.connect({ servers: nats.url, name })),
    );
    replicas = await Promise.all(buses.map((bus) => KvLedger.open(bus.connection, LEASE_MS)));
  });

  afterAll(async () => {
    await Promise.all(buses?.map((bus) => bus.drain()) ?? []);
    await nats?.stop();
  });

  it('admits exactly the limit when two replicas race for one account', async () => {
    const account = 'acme.u-race';
    await Promise.all(replicas.map((ledger, i) => ledger.heartbeat(`gw-${i}`)));
    const attempts = Array.from({ length: 8 }, (_, i) =>
      replicas[i % 2]!.acquire({ account, connectionId: `c${i}`, gateway: `gw-${i % 2}` }, 5),
    );
    const granted = (await Promise.all(attempts)).filter((r) => r.granted);
    expect(granted).toHaveLength(5);
  });

  it('releases the connections of a gateway whose heartbeat stops', async () => {
    const [ledger] = replicas as [KvLedger];
    const account = 'acme.u-lease';
    await ledger.heartbeat('gw-gone');
    for (const id of ['c1', 'c2']) {
      expect(
        (await ledger.acquire({ account, connectionId: id, gateway: 'gw-gone' }, 2)).granted,
      ).toBe(true);
    }
    await ledger.heartbeat('gw-live');
    expect(
      (await ledger.acquire({ account, connectionId: 'c3', gateway: 'gw-live' }, 2)).granted,
    ).toBe(false);

    // Nothing to await: the lease runs out on the server's clock.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 1_000));
    expect(
      (await ledger.acquire({ account, connectionId: 'c3', gateway: 'gw-live' }, 2)).granted,
    ).toBe(true);
  });
});
