import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { describe, expect, it } from 'vitest';

import { MemoryBus, type BusHandler, type BusSubscription } from '@switchboard/bus';
import { encodeBusEvent } from '@switchboard/protocol';

import type { SocketData } from './connection.ts';
import { TopicRegistry, type Topic } from './topics.ts';

type Socket = WebSocket<SocketData>;

/** A socket that records its uWebSockets.js topics and the frames sent to it. */
class FakeSocket {
  readonly topics = new Set<string>();
  readonly sent: string[] = [];
  /** What `send` returns: 1 sent, 2 dropped for the backlog limit. */
  sendStatus = 1;

  subscribe(topic: string): boolean {
    this.topics.add(topic);
    return true;
  }

  unsubscribe(topic: string): boolean {
    return this.topics.delete(topic);
  }

  send(frame: Buffer): number {
    this.sent.push(frame.toString());
    return this.sendStatus;
  }

  get ws(): Socket {
    return this as unknown as Socket;
  }
}

/**
 * A bus that counts its subscriptions, an app that records what it publishes, and the
 * sockets `onDropped` was called with.
 */
function setup(onPublish: (topic: string) => void = () => undefined) {
  const bus = new MemoryBus();
  let live = 0;
  const subscribe = bus.subscribe.bind(bus);
  bus.subscribe = (subject: string, handler: BusHandler): BusSubscription => {
    live++;
    const counted: BusSubscription = { subject, unsubscribe: () => (live--, sub.unsubscribe()) };
    const sub = subscribe(subject, (message) => handler(message, counted));
    return counted;
  };
  const published: Array<{ topic: string; frame: string }> = [];
  const app = {
    publish: (topic: string, frame: Buffer) => {
      onPublish(topic);
      published.push({ topic, frame: frame.toString() });
    },
  } as unknown as TemplatedApp;
  const dropped: Socket[] = [];
  const registry = new TopicRegistry(app, bus, {
    onMalformed: () => undefined,
    onDropped: (ws) => dropped.push(ws),
  });
  return { bus, registry, published, dropped, live: () => live };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

const ROOM = 'sb.ev.t.chat.messages.r1';
const ITEM = { channel: 'chat.messages', params: { room_id: 'r1' } };

/** Publishes one event on `subject` and waits until the bus has delivered it. */
async function publishEvent(bus: MemoryBus, subject: string): Promise<void> {
  bus.publish(subject, encodeBusEvent({ channel: 'chat.messages', event: 'e', data: 1 }).payload);
  await tick();
}

describe('TopicRegistry', () => {
  it('holds one bus subscription per subject, however many sockets share it, and drops it with the last', () => {
    const { registry, live } = setup();
    const [x, y] = [new FakeSocket(), new FakeSocket()];
    const a = registry.join(x.ws, ROOM, 'sub_1', ITEM);
    const b = registry.join(y.ws, ROOM, 'sub_1', ITEM);
    expect(a).toBe(b);
    expect(live()).toBe(1);

    registry.leave(x.ws, a);
    expect(live()).toBe(1);
    registry.release(b);
    expect(live()).toBe(0);
    expect(registry.stats()).toMatchObject({ subjects: 0, topics: 0 });
  });

  it('registers the subjects of one turn of the event loop with one bus flush', async () => {
    const { bus, registry } = setup();
    let flushes = 0;
    const flush = bus.flush.bind(bus);
    bus.flush = () => (flushes++, flush());

    const subjects = ['sb.ev.t.chat.messages.r1', 'sb.ev.t.chat.messages.r2'];
    for (const subject of subjects) registry.join(new FakeSocket().ws, subject, 'sub_1', ITEM);
    await registry.registered(subjects);
    registry.join(new FakeSocket().ws, 'sb.ev.t.chat.messages.r3', 'sub_1', ITEM);
    await registry.registered(['sb.ev.t.chat.messages.r3']);

    expect(flushes).toBe(2);
  });

  it('builds one frame per message and subscription id, not per socket', async () => {
    const { bus, registry, published } = setup();
    const sockets = Array.from({ length: 100 }, () => new FakeSocket());
    for (const socket of sockets) registry.join(socket.ws, ROOM, 'sub_1', ITEM);
    registry.join(sockets[0]!.ws, ROOM, 'sub_2', ITEM);
    registry.join(sockets[1]!.ws, ROOM, 'sub_2', ITEM);

    await publishEvent(bus, ROOM);

    expect(published).toHaveLength(2);
    expect(
      published
        .map((p) => (JSON.parse(p.frame) as { subscription_id: string }).subscription_id)
        .sort(),
    ).toEqual(['sub_1', 'sub_2']);
    expect(sockets.every((socket) => socket.sent.length === 0)).toBe(true);
  });

  it("sends a one-member topic's events to its socket, and moves both into the uWebSockets.js topic when a second joins", async () => {
    const { bus, registry, published } = setup();
    const [first, second] = [new FakeSocket(), new FakeSocket()];
    const topic = registry.join(first.ws, ROOM, 'sub_1', ITEM);
    expect(first.topics.size).toBe(0);

    await publishEvent(bus, ROOM);
    expect(first.sent).toHaveLength(1);
    expect(published).toHaveLength(0);

    registry.join(second.ws, ROOM, 'sub_1', ITEM);
    expect([...first.topics, ...second.topics]).toEqual([topic.name, topic.name]);
    await publishEvent(bus, ROOM);
    expect(first.sent).toHaveLength(1);
    expect(published.map((p) => p.topic)).toEqual([topic.name]);

    // Down to one member again, it stays in the uWebSockets.js topic.
    registry.leave(second.ws, topic);
    expect(second.topics.size).toBe(0);
    await publishEvent(bus, ROOM);
    expect(first.sent).toHaveLength(1);
    expect(published).toHaveLength(2);
  });

  it('sends nothing more to a one-member socket that left, and hands one whose frame was dropped to onDropped', async () => {
    const { bus, registry, dropped } = setup();
    const [leaving, slow] = [new FakeSocket(), new FakeSocket()];
    const left = registry.join(leaving.ws, ROOM, 'sub_1', ITEM);
    registry.join(slow.ws, ROOM, 'sub_2', ITEM);
    registry.leave(leaving.ws, left);
    slow.sendStatus = 2;

    await publishEvent(bus, ROOM);

    expect(leaving.sent).toHaveLength(0);
    expect(slow.sent).toHaveLength(1);
    expect(dropped).toEqual([slow.ws]);
  });

  it('still feeds every subscription id of a subject when one is released during a delivery', async () => {
    // As when uWebSockets.js closes a socket over its backpressure limit inside `publish`.
    let first: Topic | undefined = undefined;
    const { bus, registry, published } = setup((topic) => {
      // Both members close: the topic goes while the subject's others are being fed.
      if (first && topic === first.name) for (let i = 0; i < 2; i++) registry.release(first);
    });
    const join = (id: string) => {
      registry.join(new FakeSocket().ws, ROOM, id, ITEM);
      return registry.join(new FakeSocket().ws, ROOM, id, ITEM);
    };
    first = join('sub_1');
    join('sub_2');
    join('sub_3');

    await publishEvent(bus, ROOM);

    expect(published).toHaveLength(3);
    expect(registry.stats()).toMatchObject({ subjects: 1, topics: 2 });
  });

  it('drops bus messages that are not events, and counts them', async () => {
    const { bus, registry } = setup();
    const socket = new FakeSocket();
    registry.join(socket.ws, ROOM, 'sub_1', ITEM);
    bus.publish(ROOM, Buffer.from('{"type":"other"}'));
    await tick();
    expect(socket.sent).toHaveLength(0);
    expect(registry.stats().malformed).toBe(1);
  });
});
