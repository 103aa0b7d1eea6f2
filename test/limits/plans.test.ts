import { describe, expect, it } from 'vitest';

import { connect, type TestClient } from '../harness/ws-client.ts';
import { describeEachStack } from '../conformance/matrix.ts';
import { connectAs, gatewayUrl, request, subscribe } from '../conformance/steps.ts';

/** Plan limits of the free plan, from API v1: 5 connections, 10 subscriptions, 60 messages/min. */
describeEachStack('plan limits', {}, (sut) => {
  describe('connections per account', () => {
    it('admit exactly five of eight simultaneous connects spread over the gateways', async () => {
      const { stack } = sut;
      const key = stack.credentials.keys.erin;
      const clients = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          connect(gatewayUrl(stack, { api_key: key }, i % stack.gatewayUrls.length)),
        ),
      );
      const firsts = await Promise.all(clients.map((c) => c.next()));

      const admitted = clients.filter((_, i) => firsts[i]!.type === 'auth_success');
      const refused = clients.filter((_, i) => firsts[i]!.code === 'connection_limit_exceeded');
      expect(admitted).toHaveLength(5);
      expect(refused).toHaveLength(3);
      for (const client of refused) expect((await client.closed).code).toBe(4004);

      await admitted[0]!.close();
      const next = await connectAs(stack, 'erin', 0);
      expect(next.isOpen).toBe(true);
    });
  });

  describe('subscriptions per connection', () => {
    it('refuse the eleventh with its request_id and free a slot on unsubscribe', async () => {
      const client = await connectAs(sut.stack, 'frank');
      const ids: string[] = [];
      for (let i = 0; i < 10; i++)
        ids.push(await subscribe(client, 'chat.messages', { room_id: `room_${i}` }));

      const refused = await request(client, {
        type: 'subscribe',
        channel: 'chat.messages',
        room_id: 'room_x',
      });
      expect(refused).toMatchObject({
        type: 'error',
        code: 'subscription_limit_exceeded',
        details: { limit: 10, channel: 'chat.messages' },
      });
      expect(await request(client, { type: 'ping' })).toMatchObject({ type: 'pong' });

      await request(client, { type: 'unsubscribe', subscription_id: ids[0] });
      await subscribe(client, 'chat.messages', { room_id: 'room_x' });
    });
  });

  describe('messages per minute', () => {
    it('warn at 80 %, refuse past the limit without processing, then close with 4002', async () => {
      const client = await connectAs(sut.stack, 'grace');
      for (let i = 1; i <= 60; i++) client.send({ type: 'ping', request_id: `p${i}` });

      const warning = await client.next((f) => f.type === 'rate_limit_warning');
      expect(warning).toMatchObject({ limit: 60, remaining: 12 });
      expect(Date.parse(String(warning.reset_at))).toBeGreaterThan(Date.now());
      await client.next((f) => f.type === 'pong' && f.request_id === 'p60');

      client.send({ type: 'ping', request_id: 'p61' });
      const refusal = await client.next((f) => f.request_id === 'p61');
      expect(refusal).toMatchObject({
        type: 'error',
        code: 'rate_limit_exceeded',
        details: { limit: 60 },
      });

      for (let i = 62; i < 80; i++) client.send({ type: 'ping', request_id: `p${i}` });
      expect((await client.closed).code).toBe(4002);
    });
  });
});

describeEachStack('slow consumers', { MAX_BACKPRESSURE_BYTES: 65_536 }, (sut) => {
  it('close a reader that stopped reading with 4003, skip nothing before it, and keep the others fed', async () => {
    const { stack } = sut;
    const { RawClient } = await import('../harness/raw-client.ts');
    const room = { room_id: 'slow_room' };
    const slow = await RawClient.open(gatewayUrl(stack, { api_key: stack.credentials.keys.alice }));
    slow.sendText(
      JSON.stringify({ type: 'subscribe', channel: 'chat.messages', ...room, request_id: 's' }),
    );
    await slow.nextText((t) => t.includes('subscription_success'));
    const auth = await slow.nextText((t) => t.includes('auth_success'));
    const connId = (JSON.parse(auth) as { connection_id: string }).connection_id;
    const fast: TestClient = await connectAs(stack, 'alice');
    await subscribe(fast, 'chat.messages', room);
    slow.stopReading();
    // The slow reader reads on as soon as the gateway has closed it: uWebSockets.js drops a socket
    // whose close frame stays unread for long, and publishing below can take seconds on a busy machine.
    const closedLine = new RegExp(`"connId":"${connId}".*"msg":"closed slow consumer"`);
    const slowFrames = (async () => {
      while (!closedLine.test(stack.output())) await new Promise((r) => setTimeout(r, 20));
      return slow.readToEnd();
    })();

    // Far more than loopback's kernel buffers hold, so the server's own backlog has to grow.
    const total = 3_000;
    const blob = 'x'.repeat(8_000);
    const key = stack.credentials.keys.acmeServer;
    for (let sent = 0; sent < total; sent += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(stack.publishUrl, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              channel: 'chat.messages',
              event: 'e',
              ...room,
              data: { n: sent + i, blob },
            }),
          }),
        ),
      );
    }

    const fastOrder: number[] = [];
    while (fastOrder.length < total) {
      const event = await fast.next((f) => f.type === 'event');
      fastOrder.push((event.data as { n: number }).n);
    }
    expect(fast.isOpen).toBe(true);

    const frames = await slowFrames;
    const last = frames.at(-1);
    expect(last).toEqual({ closeCode: 4003 });
    // The slow reader got a gap-free prefix of what everyone got: nothing skipped before the close.
    const numbers = frames.flatMap((f) => {
      if (!('text' in f)) return [];
      const frame = JSON.parse(f.text) as { type: string; data?: { n: number } };
      return frame.type === 'event' && frame.data ? [frame.data.n] : [];
    });
    expect(numbers.length).toBeGreaterThan(0);
    expect(numbers).toEqual(fastOrder.slice(0, numbers.length));
  });
});

describeEachStack('connections from one address', { CONNECT_RATE_PER_ADDRESS: 1 }, (sut) => {
  it('are refused with HTTP 429 past the burst, and accepted again a moment later', async () => {
    const url = gatewayUrl(sut.stack, { api_key: sut.stack.credentials.keys.alice });
    const outcomes = await Promise.allSettled(Array.from({ length: 15 }, () => connect(url)));
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    expect(String((refused[0] as PromiseRejectedResult).reason)).toContain('429');

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const later = await connect(url);
    expect((await later.next()).type).toBe('auth_success');
  });
});
