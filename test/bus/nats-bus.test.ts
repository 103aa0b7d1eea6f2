import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  BusClosedError,
  BusNoRespondersError,
  BusTimeoutError,
  NatsBus,
  type BusMessage,
  type BusStatus,
} from '@switchboard/bus';

import { startNats, type NatsServer } from '../harness/nats.ts';

const text = (m: BusMessage): string => Buffer.from(m.data).toString();

describe('NatsBus against a real nats-server', () => {
  let nats: NatsServer;
  let a: NatsBus;
  let b: NatsBus;

  beforeAll(async () => {
    nats = await startNats();
    a = await NatsBus.connect({ servers: nats.url, name: 'test-a' });
    b = await NatsBus.connect({ servers: nats.url, name: 'test-b' });
  });

  afterAll(async () => {
    await a?.drain();
    await b?.drain();
    await nats?.stop();
  });

  /** Publishes from `a`; returns once `b` has received whatever it was going to. */
  async function sendAndSettle(subject: string, body: string): Promise<void> {
    a.publish(subject, Buffer.from(body));
    await a.flush();
    await b.flush();
  }

  it('delivers a publish to a wildcard subscriber on another connection, headers included', async () => {
    const received = new Promise<BusMessage>((resolve) => {
      b.subscribe('t.wild.*', resolve);
    });
    await b.flush();
    a.publish('t.wild.x', Buffer.from('hello'), { traceparent: '00-abc-def-01' });

    const message = await received;
    expect(text(message)).toBe('hello');
    expect(message.subject).toBe('t.wild.x');
    expect(message.headers?.traceparent).toBe('00-abc-def-01');
  });

  it('stops delivering once a subscription is unsubscribed', async () => {
    const received: string[] = [];
    const sub = b.subscribe('t.unsub.x', (m) => received.push(text(m)));
    await b.flush();
    await sendAndSettle('t.unsub.x', 'one');
    sub.unsubscribe();
    await b.flush();
    await sendAndSettle('t.unsub.x', 'two');
    expect(received).toEqual(['one']);
  });

  it('shares requests between replicas of one endpoint (queue group): each is answered once', async () => {
    const spec = { service: 'echo', name: 'echo', subject: 't.svc.echo' };
    await a.serve(spec, () => Buffer.from('a'));
    await b.serve(spec, () => Buffer.from('b'));

    const replies = await Promise.all(
      Array.from({ length: 40 }, () =>
        a.request('t.svc.echo', Buffer.from(''), { timeoutMs: 2000 }),
      ),
    );
    const counts = { a: 0, b: 0 };
    for (const reply of replies) counts[text(reply) as 'a' | 'b']++;
    expect(counts.a + counts.b).toBe(40);
    expect(counts.a).toBeGreaterThan(0);
    expect(counts.b).toBeGreaterThan(0);
  });

  it('tells "nobody serves this" apart from "nobody answered in time"', async () => {
    await expect(
      a.request('t.svc.none', Buffer.from(''), { timeoutMs: 500 }),
    ).rejects.toBeInstanceOf(BusNoRespondersError);
    await b.serve(
      { service: 'slow', name: 'slow', subject: 't.svc.slow' },
      () => new Promise(() => {}),
    );
    await expect(
      a.request('t.svc.slow', Buffer.from(''), { timeoutMs: 100 }),
    ).rejects.toBeInstanceOf(BusTimeoutError);
  });

  it('matches each of many concurrent replies to its own request, headers included', async () => {
    await b.serve({ service: 'double', name: 'double', subject: 't.svc.double' }, (m) =>
      Buffer.from(`${Number(text(m)) * 2}:${m.headers?.['x-tag'] ?? ''}`),
    );
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        a.request('t.svc.double', Buffer.from(String(i)), {
          timeoutMs: 5000,
          headers: { 'x-tag': `t${i}` },
        }),
      ),
    );
    expect(replies.map(text)).toEqual(Array.from({ length: 500 }, (_, i) => `${i * 2}:t${i}`));
  });

  it('answers requests again after the server restarts, and fails pending ones once closed', async () => {
    const own = await startNats();
    const client = await NatsBus.connect({ servers: own.url, name: 'test-restart-client' });
    const server = await NatsBus.connect({ servers: own.url, name: 'test-restart-server' });
    try {
      await server.serve({ service: 'ping', name: 'ping', subject: 't.svc.ping' }, () =>
        Buffer.from('pong'),
      );
      const first = await client.request('t.svc.ping', Buffer.from(''), { timeoutMs: 2000 });
      expect(text(first)).toBe('pong');

      const reconnected = new Promise<void>((resolve) =>
        client.onStatus((s) => s.type === 'reconnected' && resolve()),
      );
      await own.restart!();
      await reconnected;
      // The reply inbox is subscribed again; retry until the service is back as well.
      let answer: string | undefined;
      for (let i = 0; i < 50 && answer === undefined; i++) {
        try {
          answer = text(await client.request('t.svc.ping', Buffer.from(''), { timeoutMs: 500 }));
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(answer).toBe('pong');

      await server.serve(
        { service: 'hang', name: 'hang', subject: 't.svc.hang' },
        () => new Promise(() => {}),
      );
      const pending = client.request('t.svc.hang', Buffer.from(''), { timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 100));
      await client.drain();
      await expect(pending).rejects.toBeInstanceOf(BusClosedError);
      await expect(
        client.request('t.svc.ping', Buffer.from(''), { timeoutMs: 500 }),
      ).rejects.toBeInstanceOf(BusClosedError);
    } finally {
      await client.drain();
      await server.drain();
      await own.stop();
    }
  });

  it('unsubscribing twice is harmless, and a handler that throws is reported, not fatal', async () => {
    const statuses: BusStatus[] = [];
    b.onStatus((status) => statuses.push(status));
    const received: string[] = [];
    const failing = b.subscribe('t.throw.x', () => {
      throw new Error('handler broke');
    });
    const other = b.subscribe('t.throw.x', (m) => received.push(text(m)));
    await b.flush();
    await sendAndSettle('t.throw.x', 'one');
    failing.unsubscribe();
    failing.unsubscribe();
    await sendAndSettle('t.throw.x', 'two');
    other.unsubscribe();
    expect(received).toEqual(['one', 'two']);
    expect(statuses.filter((s) => s.type === 'handler_error')).toHaveLength(1);
  });
});

describe.each([
  { lean: true, kind: 'lean subscriptions' },
  { lean: false, kind: "nats.js's own subscriptions" },
])('NatsBus across a NATS restart, with $kind', ({ lean }) => {
  let nats: NatsServer;
  let bus: NatsBus;
  let publisher: NatsBus;

  beforeAll(async () => {
    nats = await startNats();
    bus = await NatsBus.connect({
      servers: nats.url,
      name: 'test-restart',
      leanSubscriptions: lean,
    });
    publisher = await NatsBus.connect({ servers: nats.url, name: 'test-restart-pub' });
  });

  it(lean ? 'uses lean subscriptions with the installed nats-core' : "uses nats.js's", () => {
    // A nats.js upgrade that changes the internals lean subscriptions rely on fails here,
    // rather than silently costing the gateway some 300 bytes per subject.
    expect(bus.leanSubscriptions).toBe(lean);
  });

  afterAll(async () => {
    await bus?.drain();
    await publisher?.drain();
    await nats?.stop();
  });

  it('subscribes again after a reconnect: kept subscriptions deliver, dropped ones stay gone', async (context) => {
    if (!nats.restart) return context.skip();
    const received: string[] = [];
    bus.subscribe('t.restart.kept', (m) => received.push(`kept ${text(m)}`));
    const dropped = bus.subscribe('t.restart.dropped', (m) => received.push(`dropped ${text(m)}`));
    await bus.flush();
    dropped.unsubscribe();

    const reconnected = (client: NatsBus): Promise<void> =>
      new Promise((resolve) =>
        client.onStatus((status) => status.type === 'reconnected' && resolve()),
      );
    const back = Promise.all([reconnected(bus), reconnected(publisher)]);
    await nats.restart();
    await back;
    await bus.flush();

    publisher.publish('t.restart.kept', Buffer.from('after'));
    publisher.publish('t.restart.dropped', Buffer.from('after'));
    await publisher.flush();
    await bus.flush();
    await expect.poll(() => received).toEqual(['kept after']);
  });
});
