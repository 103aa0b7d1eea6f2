import { expect, it } from 'vitest';

import { connect, type Frame, type TestClient } from '../harness/ws-client.ts';
import { describeEachStack } from './matrix.ts';
import { connectAs, gatewayUrl, ISO_MS, request, matching } from './steps.ts';

const SETTINGS = { AUTH_TIMEOUT_MS: 1_000, PING_INTERVAL_MS: 200, PING_TIMEOUT_MS: 600 };

/** Enough server pings to outlast both PING_TIMEOUT_MS and AUTH_TIMEOUT_MS. */
const PINGS_TO_OUTLAST = 8;

const isServerPing = (frame: Frame): boolean =>
  frame.type === 'ping' && frame.request_id === undefined;

/** Ways a client may show it is alive after a server ping. */
const ANSWERS: ReadonlyArray<readonly [string, (client: TestClient, n: number) => void]> = [
  ['a pong message', (client) => client.send({ type: 'pong' })],
  ['some other message', (client, n) => client.send({ type: 'ping', request_id: `alive_${n}` })],
  ['a protocol-level pong', (client) => client.sendProtocolPong()],
];

describeEachStack('liveness', SETTINGS, (sut) => {
  it('answers a ping with a pong carrying an ISO timestamp and the request_id', async () => {
    const client = await connectAs(sut.stack, 'alice');
    client.send({ type: 'ping', request_id: 'p1' });

    const pong = await client.next((frame) => frame.type === 'pong');

    expect(pong).toEqual({
      type: 'pong',
      timestamp: matching(ISO_MS),
      request_id: 'p1',
    });
  });

  it('sends {"type":"ping"} every PING_INTERVAL_MS', async () => {
    const client = await connectAs(sut.stack, 'alice');

    const started = Date.now();
    for (let n = 0; n < 3; n++) {
      expect(await client.next(isServerPing)).toEqual({ type: 'ping' });
      client.send({ type: 'pong' });
    }

    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * SETTINGS.PING_INTERVAL_MS - 50);
  });

  it.each(ANSWERS)(
    'keeps open past both timeouts a client that answers each server ping with %s',
    async (_case, answer) => {
      const client = await connectAs(sut.stack, 'alice', 0, { autoPong: false });

      for (let n = 0; n < PINGS_TO_OUTLAST; n++) {
        await client.next(isServerPing);
        answer(client, n);
      }

      expect(await request(client, { type: 'ping' })).toMatchObject({ type: 'pong' });
    },
  );

  it('closes with 4000 a client that answers nothing', async () => {
    const client = await connectAs(sut.stack, 'alice', 0, { autoPong: false });

    expect(await client.closed).toMatchObject({ code: 4000 });
  });

  it('closes with 4001 a connection that does not authenticate within AUTH_TIMEOUT_MS', async () => {
    const client = await connect(gatewayUrl(sut.stack));

    expect(await client.closed).toMatchObject({ code: 4001 });
  });

  it('closes with 4001 an unauthenticated connection even while it answers pings', async () => {
    const client = await connect(gatewayUrl(sut.stack));
    const answering = (async (): Promise<void> => {
      for (;;) {
        await client.next(isServerPing);
        client.send({ type: 'pong' });
      }
    })();

    expect(await client.closed).toMatchObject({ code: 4001 });
    await expect(answering).rejects.toThrow(/closed/);
  });

  // Stops a gateway process, so it runs last.
  it('closes every socket with 1012 when a gateway receives SIGTERM', async () => {
    const authenticated = await connectAs(sut.stack, 'alice', 0);
    const pending = await connect(gatewayUrl(sut.stack, {}, 0));
    const others = await Promise.all(
      sut.stack.gatewayUrls.slice(1).map((_, i) => connectAs(sut.stack, 'bob', i + 1)),
    );

    const exit = await sut.stack.terminateGateway(0);

    expect(await authenticated.closed).toMatchObject({ code: 1012 });
    expect(await pending.closed).toMatchObject({ code: 1012 });
    expect(exit).toEqual({ code: 0, signal: null });
    for (const other of others) {
      expect(await request(other, { type: 'ping' })).toMatchObject({ type: 'pong' });
    }
  });
});
