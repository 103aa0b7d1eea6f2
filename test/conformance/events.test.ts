import { expect, it } from 'vitest';

import { publishHttp } from '../harness/publish.ts';
import type { TestClient } from '../harness/ws-client.ts';
import { describeEachStack } from './matrix.ts';
import { connectAs, ISO_MS, nextEvent, publish, request, subscribe, matching } from './steps.ts';

type Params = Record<string, string>;

/** Per channel: what a subscriber asks for and what a matching publish carries. */
const ROUTES: ReadonlyArray<readonly [string, Params, Params]> = [
  ['users.presence', { user_id: 'bob' }, { user_id: 'bob' }],
  ['projects.updates', { project_id: 'proj_r' }, { project_id: 'proj_r' }],
  [
    'tasks.updates',
    { project_id: 'proj_r', task_id: 'task_r' },
    { project_id: 'proj_r', task_id: 'task_r' },
  ],
  ['comments.updates', { task_id: 'task_r' }, { project_id: 'proj_r', task_id: 'task_r' }],
  ['files.updates', { project_id: 'proj_r' }, { project_id: 'proj_r', file_id: 'file_r' }],
  ['notifications', {}, { user_id: 'alice' }],
  ['data.orders', { resource_id: 'order_r' }, { resource_id: 'order_r' }],
  ['chat.messages', { room_id: 'room_r' }, { room_id: 'room_r' }],
];

const DATA = {
  project_id: 'proj_1',
  name: 'Updated Project Name',
  tags: ['a', 'b'],
  nested: { count: 3, ratio: 0.25, empty: null, flag: false },
  text: 'ünïcødé ✓ "quoted" \\ back\nslash',
};

describeEachStack('events', {}, (sut) => {
  it('delivers a published event with the publish id, an ISO timestamp and the data unchanged', async () => {
    const client = await connectAs(sut.stack, 'alice');
    const subscriptionId = await subscribe(client, 'projects.updates', { project_id: 'proj_1' });

    const reply = await publishHttp(sut.stack, sut.stack.credentials.keys.acmeServer, {
      channel: 'projects.updates',
      event: 'project.updated',
      project_id: 'proj_1',
      data: DATA,
    });
    expect(reply).toMatchObject({
      status: 202,
      json: { id: matching(/^evt_/), status: 'accepted' },
    });

    expect(await nextEvent(client)).toEqual({
      type: 'event',
      channel: 'projects.updates',
      event: 'project.updated',
      subscription_id: subscriptionId,
      timestamp: matching(ISO_MS),
      data: DATA,
      id: (reply.json as { id: string }).id,
    });
  });

  it.each(ROUTES)(
    'routes %s events to a subscription with %j',
    async (channel, subscribed, published) => {
      const client = await connectAs(sut.stack, 'alice');
      const subscriptionId = await subscribe(client, channel, subscribed);

      const id = await publish(sut.stack, 'acmeServer', {
        channel,
        event: 'routed',
        ...published,
        data: { channel },
      });

      expect(await nextEvent(client)).toMatchObject({
        id,
        channel,
        subscription_id: subscriptionId,
      });
    },
  );

  it('delivers events of every project to a projects.updates subscription without project_id', async () => {
    const client = await connectAs(sut.stack, 'alice');
    await subscribe(client, 'projects.updates');

    const ids = [];
    for (const project_id of ['proj_a', 'proj_b']) {
      ids.push(
        await publish(sut.stack, 'acmeServer', {
          channel: 'projects.updates',
          event: 'x',
          project_id,
          data: {},
        }),
      );
    }

    expect((await nextEvent(client)).id).toBe(ids[0]);
    expect((await nextEvent(client)).id).toBe(ids[1]);
  });

  it('narrows tasks.updates to a project with project_id and to one task with task_id', async () => {
    const client = await connectAs(sut.stack, 'alice');
    const project = await subscribe(client, 'tasks.updates', { project_id: 'proj_t' });
    const task = await subscribe(client, 'tasks.updates', {
      project_id: 'proj_t',
      task_id: 'task_1',
    });

    const send = (project_id: string, task_id: string): Promise<string> =>
      publish(sut.stack, 'acmeServer', {
        channel: 'tasks.updates',
        event: 'task.updated',
        project_id,
        task_id,
        data: {},
      });
    await send('proj_other', 'task_1');
    const [t1, t2, t1again] = [
      await send('proj_t', 'task_1'),
      await send('proj_t', 'task_2'),
      await send('proj_t', 'task_1'),
    ];

    for (const id of [t1, t2, t1again]) expect((await nextEvent(client, project)).id).toBe(id);
    for (const id of [t1, t1again]) expect((await nextEvent(client, task)).id).toBe(id);
  });

  it('delivers notifications only to the user they are for', async () => {
    const alice = await connectAs(sut.stack, 'alice');
    const bob = await connectAs(sut.stack, 'bob');
    await subscribe(alice, 'notifications');
    await subscribe(bob, 'notifications');

    const body = { channel: 'notifications', event: 'notification.created', data: {} };
    const forAlice = await publish(sut.stack, 'acmeServer', { ...body, user_id: 'alice' });
    const forBob = await publish(sut.stack, 'acmeServer', { ...body, user_id: 'bob' });

    expect((await nextEvent(alice)).id).toBe(forAlice);
    expect((await nextEvent(bob)).id).toBe(forBob);
  });

  it('never delivers one tenant’s events to another tenant’s subscribers', async () => {
    const acme = await connectAs(sut.stack, 'alice');
    const globex = await connectAs(sut.stack, 'carol');
    const acmeSub = await subscribe(acme, 'projects.updates', { project_id: 'proj_1' });
    const exact = await subscribe(globex, 'projects.updates', { project_id: 'proj_1' });
    const all = await subscribe(globex, 'projects.updates');

    const body = { channel: 'projects.updates', project_id: 'proj_1', data: {} };
    const leaked = await publish(sut.stack, 'acmeServer', { ...body, event: 'project.secret' });
    const marker = await publish(sut.stack, 'globexServer', { ...body, event: 'project.marker' });

    expect((await nextEvent(acme, acmeSub)).id).toBe(leaked);
    expect((await nextEvent(globex, exact)).id).toBe(marker);
    expect((await nextEvent(globex, all)).id).toBe(marker);
  });

  it('delivers one event to subscribers on different gateways', async () => {
    const first = await connectAs(sut.stack, 'alice', 0);
    const last = await connectAs(sut.stack, 'bob', -1);
    await subscribe(first, 'chat.messages', { room_id: 'room_x' });
    await subscribe(last, 'chat.messages', { room_id: 'room_x' });

    const body = {
      channel: 'chat.messages',
      event: 'chat.message_received',
      room_id: 'room_x',
      data: { text: 'hi' },
    };
    const id = await publish(sut.stack, 'acmeServer', body);

    expect(await nextEvent(first)).toMatchObject({ id, data: { text: 'hi' } });
    expect(await nextEvent(last)).toMatchObject({ id, data: { text: 'hi' } });
  });

  it('delivers events published in sequence in the same order', async () => {
    const client = await connectAs(sut.stack, 'alice', -1);
    await subscribe(client, 'data.metrics', { resource_id: 'cpu' });

    const count = 25;
    for (let seq = 0; seq < count; seq++) {
      await publish(sut.stack, 'acmeServer', {
        channel: 'data.metrics',
        event: 'sample',
        resource_id: 'cpu',
        data: { seq },
      });
    }

    const received = [];
    for (let i = 0; i < count; i++) received.push((await nextEvent(client)).data);
    expect(received).toEqual(Array.from({ length: count }, (_, seq) => ({ seq })));
  });

  it('keeps a subscription whole while other sockets join it and its first socket leaves', async () => {
    // The gateway sends a subscription's events to its only socket directly, and moves the
    // sockets into a shared uWebSockets.js topic once a second one joins (topics.ts).
    const params = { resource_id: 'disk' };
    const send = async (from: number, to: number) => {
      for (let seq = from; seq < to; seq++)
        await publish(sut.stack, 'acmeServer', {
          channel: 'data.metrics',
          event: 'sample',
          ...params,
          data: { seq },
        });
    };
    const receive = async (client: TestClient, from: number, to: number) => {
      const received = [];
      for (let seq = from; seq < to; seq++) received.push((await nextEvent(client)).data);
      expect(received).toEqual(Array.from({ length: to - from }, (_, i) => ({ seq: from + i })));
    };

    // Each phase waits for its events to arrive before the next subscribe or unsubscribe: a
    // 202 from the publisher means accepted, and delivery may still be under way.
    const first = await connectAs(sut.stack, 'alice');
    const id = await subscribe(first, 'data.metrics', params);
    await send(0, 5);
    await receive(first, 0, 5);
    const second = await connectAs(sut.stack, 'alice');
    await subscribe(second, 'data.metrics', params);
    await send(5, 10);
    await receive(first, 5, 10);
    await receive(second, 5, 10);
    expect(await request(first, { type: 'unsubscribe', subscription_id: id })).toMatchObject({
      type: 'unsubscription_success',
    });
    await send(10, 15);
    await receive(second, 10, 15);
    // Whatever the gateway sent the first socket before its pong has arrived: no more events.
    expect(await request(first, { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(first.pending().filter((frame) => frame.type === 'event')).toEqual([]);
  });
});
