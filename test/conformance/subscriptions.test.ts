import { expect, it } from 'vitest';

import { connect } from '../harness/ws-client.ts';
import { describeEachStack } from './matrix.ts';
import {
  connectAs,
  gatewayUrl,
  nextEvent,
  publish,
  request,
  subscribe,
  anyString,
  matching,
} from './steps.ts';

type Params = Record<string, string>;

/** Every channel of the catalog, with each parameter combination a subscribe may use. */
const ACCEPTED: ReadonlyArray<readonly [string, Params]> = [
  ['users.presence', {}],
  ['users.presence', { user_id: 'bob' }],
  ['projects.updates', {}],
  ['projects.updates', { project_id: 'proj_1' }],
  ['tasks.updates', { project_id: 'proj_1' }],
  ['tasks.updates', { project_id: 'proj_1', task_id: 'task_1' }],
  ['comments.updates', { project_id: 'proj_1' }],
  ['comments.updates', { task_id: 'task_1' }],
  ['comments.updates', { project_id: 'proj_1', task_id: 'task_1' }],
  ['files.updates', { project_id: 'proj_1' }],
  ['files.updates', { project_id: 'proj_1', file_id: 'file_1' }],
  ['notifications', {}],
  ['notifications', { user_id: 'alice' }],
  ['data.orders', {}],
  ['data.orders', { resource_id: 'order-42' }],
  ['chat.messages', { room_id: 'room_1' }],
];

/** Subscribe requests the catalog refuses. */
const REFUSED: ReadonlyArray<readonly [string, string, Params]> = [
  ['an unknown channel', 'projects.deletions', {}],
  ['a channel outside the catalog namespace', 'billing', {}],
  ['data without a resource type', 'data', {}],
  ['an unknown parameter', 'projects.updates', { colour: 'red' }],
  ['tasks.updates without project_id', 'tasks.updates', { task_id: 'task_1' }],
  ['comments.updates with neither project_id nor task_id', 'comments.updates', {}],
  ['files.updates without project_id', 'files.updates', {}],
  ['chat.messages without room_id', 'chat.messages', {}],
  ['an id with a dot', 'projects.updates', { project_id: 'proj.1' }],
  ['the wildcard *', 'projects.updates', { project_id: '*' }],
  ['the wildcard >', 'projects.updates', { project_id: '>' }],
  ['an id with a space', 'projects.updates', { project_id: 'a b' }],
  ['a 200-character id', 'projects.updates', { project_id: 'p'.repeat(200) }],
  ['an empty id', 'projects.updates', { project_id: '' }],
];

describeEachStack('subscriptions', {}, (sut) => {
  it('confirms a subscribe with the channel, its parameters, a subscription_id and the request_id', async () => {
    const client = await connectAs(sut.stack, 'alice');
    client.send({
      type: 'subscribe',
      channel: 'projects.updates',
      project_id: 'proj_1',
      request_id: 'r1',
    });

    expect(await client.next()).toEqual({
      type: 'subscription_success',
      channel: 'projects.updates',
      project_id: 'proj_1',
      subscription_id: matching(/^sub_/),
      request_id: 'r1',
    });
  });

  it.each(ACCEPTED)('accepts a subscription to %s with %j', async (channel, params) => {
    const client = await connectAs(sut.stack, 'alice');

    const reply = await request(client, { type: 'subscribe', channel, ...params });

    expect(reply).toMatchObject({ type: 'subscription_success', channel, ...params });
    expect(reply.subscription_id).toMatch(/^sub_/);
  });

  it('derives the subscription_id from channel and parameters alone', async () => {
    const first = await connectAs(sut.stack, 'alice', 0);
    const second = await connectAs(sut.stack, 'bob', -1);

    const a = await subscribe(first, 'tasks.updates', { project_id: 'proj_1', task_id: 'task_9' });
    const b = await subscribe(second, 'tasks.updates', { task_id: 'task_9', project_id: 'proj_1' });
    const other = await subscribe(first, 'tasks.updates', {
      project_id: 'proj_1',
      task_id: 'task_8',
    });

    expect(b).toBe(a);
    expect(other).not.toBe(a);
  });

  it('treats a repeated subscribe as the same subscription and delivers each event once', async () => {
    const client = await connectAs(sut.stack, 'alice');
    const first = await subscribe(client, 'projects.updates', { project_id: 'proj_twice' });
    const second = await subscribe(client, 'projects.updates', { project_id: 'proj_twice' });
    expect(second).toBe(first);

    const body = { channel: 'projects.updates', project_id: 'proj_twice', data: {} };
    const one = await publish(sut.stack, 'acmeServer', { ...body, event: 'project.updated' });
    const two = await publish(sut.stack, 'acmeServer', { ...body, event: 'project.marker' });

    expect(await nextEvent(client)).toMatchObject({ id: one, subscription_id: first });
    expect(await nextEvent(client)).toMatchObject({ id: two, subscription_id: first });
  });

  it('confirms an unsubscribe and delivers no more events of that subscription', async () => {
    const client = await connectAs(sut.stack, 'alice');
    const dropped = await subscribe(client, 'projects.updates', { project_id: 'proj_dropped' });
    const kept = await subscribe(client, 'projects.updates', { project_id: 'proj_kept' });

    client.send({ type: 'unsubscribe', subscription_id: dropped, request_id: 'u1' });
    expect(await client.next()).toEqual({
      type: 'unsubscription_success',
      subscription_id: dropped,
      request_id: 'u1',
    });

    const body = { channel: 'projects.updates', event: 'project.updated', data: {} };
    await publish(sut.stack, 'acmeServer', { ...body, project_id: 'proj_dropped' });
    const marker = await publish(sut.stack, 'acmeServer', { ...body, project_id: 'proj_kept' });

    expect(await nextEvent(client)).toMatchObject({ id: marker, subscription_id: kept });
  });

  it('refuses to unsubscribe a subscription_id the connection does not hold', async () => {
    const client = await connectAs(sut.stack, 'alice');

    const reply = await request(client, {
      type: 'unsubscribe',
      subscription_id: 'sub_never_issued',
    });

    expect(reply).toMatchObject({
      type: 'error',
      code: 'invalid_subscription',
      request_id: reply.request_id,
    });
  });

  it('names the missing parameter when tasks.updates comes without project_id', async () => {
    const client = await connectAs(sut.stack, 'alice');
    client.send({ type: 'subscribe', channel: 'tasks.updates', request_id: 'req_abc123' });

    expect(await client.next()).toEqual({
      type: 'error',
      code: 'invalid_subscription',
      message: 'Unable to subscribe to the specified channel',
      request_id: 'req_abc123',
      details: { reason: 'Missing required parameter: project_id', channel: 'tasks.updates' },
    });
  });

  it.each(REFUSED)('refuses %s with invalid_subscription', async (_case, channel, params) => {
    const client = await connectAs(sut.stack, 'alice');

    const reply = await request(client, { type: 'subscribe', channel, ...params });

    expect(reply).toMatchObject({
      type: 'error',
      code: 'invalid_subscription',
      request_id: reply.request_id,
      details: { reason: anyString },
    });
  });

  it('refuses notifications of another user with permission_denied', async () => {
    const client = await connectAs(sut.stack, 'alice');

    const reply = await request(client, {
      type: 'subscribe',
      channel: 'notifications',
      user_id: 'bob',
    });

    expect(reply).toMatchObject({
      type: 'error',
      code: 'permission_denied',
      request_id: reply.request_id,
    });
  });

  it('refuses notifications to an application key that has no user', async () => {
    const client = await connectAs(sut.stack, 'acmeDashboard');
    expect(await subscribe(client, 'projects.updates')).toMatch(/^sub_/);

    const reply = await request(client, { type: 'subscribe', channel: 'notifications' });

    expect(reply).toMatchObject({
      type: 'error',
      code: 'permission_denied',
      request_id: reply.request_id,
    });
  });

  it('refuses any subscription to a key without the subscribe scope', async () => {
    const client = await connectAs(sut.stack, 'acmeServer');

    const reply = await request(client, {
      type: 'subscribe',
      channel: 'projects.updates',
      project_id: 'proj_1',
    });

    expect(reply).toMatchObject({
      type: 'error',
      code: 'permission_denied',
      request_id: reply.request_id,
    });
  });

  it('restores a subscription after a reconnect with the same id and new events', async () => {
    const before = await connectAs(sut.stack, 'alice');
    const original = await subscribe(before, 'projects.updates', { project_id: 'proj_restore' });
    await before.close();

    const after = await connect(gatewayUrl(sut.stack, {}, -1));
    after.send({ type: 'auth', api_key: sut.stack.credentials.keys.alice, request_id: 'a1' });
    after.send({
      type: 'subscribe',
      channel: 'projects.updates',
      project_id: 'proj_restore',
      request_id: 's1',
    });

    expect(await after.next()).toMatchObject({ type: 'auth_success', request_id: 'a1' });
    expect(await after.next()).toMatchObject({
      type: 'subscription_success',
      subscription_id: original,
      request_id: 's1',
    });
    const body = {
      channel: 'projects.updates',
      event: 'project.updated',
      project_id: 'proj_restore',
      data: { n: 1 },
    };
    const id = await publish(sut.stack, 'acmeServer', body);
    expect(await nextEvent(after)).toMatchObject({ id, subscription_id: original, data: { n: 1 } });
  });
});
