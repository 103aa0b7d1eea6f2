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
} from './steps.ts';

const MAX_MESSAGE_BYTES = 1024;

/** A ping frame of exactly `bytes` bytes, padded with an extra field. */
function pingOfSize(bytes: number, requestId: string): string {
  const empty = JSON.stringify({ type: 'ping', request_id: requestId, pad: '' });
  return JSON.stringify({
    type: 'ping',
    request_id: requestId,
    pad: 'x'.repeat(bytes - empty.length),
  });
}

/** Frames that are no valid client message: case, text, field at fault, echoed request_id. */
const MALFORMED: ReadonlyArray<readonly [string, string, string | undefined, string | undefined]> =
  [
    ['text that is not JSON', '{"type":', undefined, undefined],
    ['a JSON array', '[{"type":"ping"}]', undefined, undefined],
    ['a JSON string', '"ping"', undefined, undefined],
    ['a message without type', '{"request_id":"bad_1"}', 'type', 'bad_1'],
    ['a message of an unknown type', '{"type":"dance","request_id":"bad_2"}', 'type', 'bad_2'],
    [
      'a channel that is a number',
      '{"type":"subscribe","channel":5,"request_id":"bad_3"}',
      'channel',
      'bad_3',
    ],
    [
      'a channel parameter that is a number',
      '{"type":"subscribe","channel":"projects.updates","project_id":7,"request_id":"bad_4"}',
      'project_id',
      'bad_4',
    ],
    ['a request_id that is a number', '{"type":"ping","request_id":5}', 'request_id', undefined],
    [
      'an unsubscribe without subscription_id',
      '{"type":"unsubscribe","request_id":"bad_5"}',
      'subscription_id',
      'bad_5',
    ],
  ];

/** Requests of every kind; each reply must carry the request_id back. */
const REQUESTS: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['ping', { type: 'ping' }],
  ['a subscribe', { type: 'subscribe', channel: 'projects.updates', project_id: 'proj_1' }],
  ['a refused subscribe', { type: 'subscribe', channel: 'tasks.updates' }],
  ['a forbidden subscribe', { type: 'subscribe', channel: 'notifications', user_id: 'bob' }],
  ['an unsubscribe of an unknown id', { type: 'unsubscribe', subscription_id: 'sub_unknown' }],
  ['a message of an unknown type', { type: 'dance' }],
];

describeEachStack('client input', { MAX_MESSAGE_BYTES }, (sut) => {
  it.each(MALFORMED)(
    'answers %s with invalid_message_format and keeps the connection usable',
    async (_case, text, field, requestId) => {
      const client = await connectAs(sut.stack, 'alice');

      client.sendRaw(text);

      const error = await client.next();
      expect(error).toMatchObject({
        type: 'error',
        code: 'invalid_message_format',
        message: anyString,
        details: { reason: anyString, ...(field ? { field } : {}) },
        ...(requestId ? { request_id: requestId } : {}),
      });
      expect(await request(client, { type: 'ping' })).toMatchObject({ type: 'pong' });
    },
  );

  it('answers a binary frame with invalid_message_format and keeps the connection usable', async () => {
    const client = await connectAs(sut.stack, 'alice');

    client.sendRaw(Buffer.from('{"type":"ping","request_id":"bin_1"}'), { binary: true });

    expect(await client.next()).toMatchObject({ type: 'error', code: 'invalid_message_format' });
    expect(await request(client, { type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it.each(REQUESTS)('carries the request_id of %s back in the reply', async (_case, message) => {
    const client = await connectAs(sut.stack, 'alice');
    client.send({ ...message, request_id: 'echo-me' });

    expect(await client.next()).toMatchObject({ request_id: 'echo-me' });
  });

  it('carries the request_id of a repeated auth back in the reply', async () => {
    const client = await connectAs(sut.stack, 'alice');
    client.send({ type: 'auth', api_key: sut.stack.credentials.keys.alice, request_id: 'again' });

    expect(await client.next()).toMatchObject({ request_id: 'again' });
  });

  it('accepts a frame of exactly MAX_MESSAGE_BYTES', async () => {
    const client = await connectAs(sut.stack, 'alice');

    client.sendRaw(pingOfSize(MAX_MESSAGE_BYTES, 'at-limit'));

    expect(await client.next()).toMatchObject({ type: 'pong', request_id: 'at-limit' });
  });

  it('closes with 1009 a connection that sends a larger frame, and no other', async () => {
    const offender = await connectAs(sut.stack, 'alice');
    const bystander = await connectAs(sut.stack, 'bob');
    await subscribe(bystander, 'projects.updates', { project_id: 'proj_big' });

    offender.sendRaw(pingOfSize(MAX_MESSAGE_BYTES + 1, 'too-big'));

    expect(await offender.closed).toMatchObject({ code: 1009 });
    expect(await request(bystander, { type: 'ping' })).toMatchObject({ type: 'pong' });
    const body = { channel: 'projects.updates', event: 'x', project_id: 'proj_big', data: {} };
    const id = await publish(sut.stack, 'acmeServer', body);
    expect(await nextEvent(bystander)).toMatchObject({ id });
  });

  it('closes with 1009 even a connection whose frame is many times the limit', async () => {
    const client = await connectAs(sut.stack, 'alice');

    client.sendRaw(pingOfSize(64 * MAX_MESSAGE_BYTES, 'far-too-big'));

    expect(await client.closed).toMatchObject({ code: 1009 });
  });

  it('closes with 1009 an unauthenticated connection that sends a larger frame', async () => {
    const client = await connect(gatewayUrl(sut.stack));

    client.sendRaw(pingOfSize(4 * MAX_MESSAGE_BYTES, 'too-big'));

    expect(await client.closed).toMatchObject({ code: 1009 });
  });

  it.each(['/v1/', '/v1'])('answers a plain GET on %s with 426 and keeps serving', async (path) => {
    const url = new URL(gatewayUrl(sut.stack).replace(/^ws/, 'http'));
    url.pathname = path;

    const response = await fetch(url);

    expect(response.status).toBe(426);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    await connectAs(sut.stack, 'alice');
  });

  it.each(['/', '/v2/', '/v1/events/extra', '/favicon.ico'])(
    'answers a GET on %s with 404 and keeps serving',
    async (path) => {
      const url = new URL(gatewayUrl(sut.stack).replace(/^ws/, 'http'));
      url.pathname = path;

      const response = await fetch(url);

      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      await connectAs(sut.stack, 'alice');
    },
  );
});
