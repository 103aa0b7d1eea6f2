import type { TemplatedApp } from 'uWebSockets.js';
import { describe, expect, it } from 'vitest';

import { MemoryBus, type BusHandler, type BusSubscription } from '@switchboard/bus';
import { encodeBusEvent } from '@switchboard/protocol';

import { TopicRegistry, type Topic } from './topics.ts';

/** A bus that counts its subscriptions, and an app that records what it publishes. */
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
  const registry = new TopicRegistry(app, bus, () => undefined);
  return { bus, registry, published, live: () => live };
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
    const a = registry.acquire(ROOM, 'sub_1', ITEM);
    const b = registry.acquire(ROOM, 'sub_1', ITEM);
    expect(a).toBe(b);
    expect(live()).toBe(1);

    registry.release(a);
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
    for (const subject of subjects) registry.acquire(subject, 'sub_1', ITEM);
    await registry.registered(subjects);
    registry.acquire('sb.ev.t.chat.messages.r3', 'sub_1', ITEM);
    await registry.registered(['sb.ev.t.chat.messages.r3']);

    expect(flushes).toBe(2);
  });

  it('builds one frame per message and subscription id, not per socket', async () => {
    const { bus, registry, published } = setup();
    for (let i = 0; i < 100; i++) registry.acquire(ROOM, 'sub_1', ITEM);
    registry.acquire(ROOM, 'sub_2', ITEM);

    await publishEvent(bus, ROOM);

    expect(published).toHaveLength(2);
    expect(
      published
        .map((p) => (JSON.parse(p.frame) as { subscription_id: string }).subscription_id)
        .sort(),
    ).toEqual(['sub_1', 'sub_2']);
  });

  it('still feeds every subscription id of a subject when one is released during a delivery', async () => {
    // As when uWebSockets.js closes a socket over its backpressure limit inside `publish`.
    let first: Topic | undefined = undefined;
    const { bus, registry, published } = setup((topic) => {
      if (first && topic === first.name) registry.release(first);
    });
    first = registry.acquire(ROOM, 'sub_1', ITEM);
    registry.acquire(ROOM, 'sub_2', ITEM);
    registry.acquire(ROOM, 'sub_3', ITEM);

    await publishEvent(bus, ROOM);

    expect(published).toHaveLength(3);
    expect(registry.stats()).toMatchObject({ subjects: 1, topics: 2 });
  });

  it('drops bus messages that are not events, and counts them', async () => {
    const { bus, registry, published } = setup();
    registry.acquire(ROOM, 'sub_1', ITEM);
    bus.publish(ROOM, Buffer.from('{"type":"other"}'));
    await tick();
    expect(published).toHaveLength(0);
    expect(registry.stats().malformed).toBe(1);
  });
});
