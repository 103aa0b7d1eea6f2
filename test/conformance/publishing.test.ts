import { describe, expect, it } from 'vitest';

import type { KeyName } from '../harness/credentials.ts';
import { postRaw, publishHttp, publishNats, type KeyHeader } from '../harness/publish.ts';
import { describeEachStack } from './matrix.ts';
import { connectAs, nextEvent, subscribe, anyString, anyObject, matching } from './steps.ts';

const json = (value: unknown): string => JSON.stringify(value);

const EVENT = {
  channel: 'projects.updates',
  event: 'project.updated',
  project_id: 'proj_pub',
  data: { a: 1 },
};

/** Bodies the publish API refuses with 400: the case, its error code, the raw body. */
const BAD_BODIES: ReadonlyArray<readonly [string, string, string]> = [
  ['a body that is not JSON', 'invalid_message_format', '{"channel":'],
  ['a JSON array', 'invalid_message_format', '[1,2,3]'],
  [
    'a body without channel',
    'invalid_message_format',
    json({ event: 'x', project_id: 'p', data: {} }),
  ],
  [
    'a body without event',
    'invalid_message_format',
    json({ channel: 'projects.updates', data: {} }),
  ],
  ['an unknown channel', 'invalid_channel', json({ ...EVENT, channel: 'projects.deletions' })],
  [
    'a missing required parameter',
    'invalid_channel',
    json({ channel: 'tasks.updates', event: 'x', data: {} }),
  ],
  ['an unsafe id', 'invalid_channel', json({ ...EVENT, project_id: 'proj.1' })],
  ['a wildcard id', 'invalid_channel', json({ ...EVENT, project_id: '*' })],
];

/** Keys the publish API refuses, with the status and code of the refusal. */
const REFUSED_KEYS: ReadonlyArray<readonly [string, KeyName | 'none' | 'unknown', number, string]> =
  [
    ['no key', 'none', 401, 'invalid_credentials'],
    ['an unknown key', 'unknown', 401, 'invalid_credentials'],
    ['a revoked key', 'revoked', 401, 'invalid_credentials'],
    ['a client key without the publish scope', 'alice', 403, 'permission_denied'],
  ];

describeEachStack('the publish API', {}, (sut) => {
  it.each(['authorization', 'x-api-key'] as const)(
    'accepts a server key in the %s header with 202 and an event id',
    async (via: KeyHeader) => {
      const client = await connectAs(sut.stack, 'alice');
      await subscribe(client, 'projects.updates', { project_id: 'proj_pub' });

      const reply = await publishHttp(sut.stack, sut.stack.credentials.keys.acmeServer, EVENT, {
        via,
      });

      expect(reply.status).toBe(202);
      expect(reply.json).toEqual({ id: matching(/^evt_/), status: 'accepted' });
      expect(await nextEvent(client)).toMatchObject({ id: (reply.json as { id: string }).id });
    },
  );

  it.each(REFUSED_KEYS)('refuses %s with %i %s', async (_case, name, status, code) => {
    const key =
      name === 'none'
        ? undefined
        : name === 'unknown'
          ? 'sbk_unknown'
          : sut.stack.credentials.keys[name];

    const reply = await publishHttp(sut.stack, key, EVENT);

    expect(reply.status).toBe(status);
    expect(reply.json).toMatchObject({ error: { code, message: anyString } });
  });

  it.each(BAD_BODIES)('refuses %s with 400 %s', async (_case, code, text) => {
    const headers = { authorization: `Bearer ${sut.stack.credentials.keys.acmeServer}` };

    const reply = await postRaw(sut.stack.publishUrl, headers, text);

    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({
      error: { code, message: anyString, details: anyObject },
    });
  });

  it('refuses a body larger than 64 KiB with 413 payload_too_large', async () => {
    const body = { ...EVENT, data: { blob: 'x'.repeat(70_000) } };

    const reply = await publishHttp(sut.stack, sut.stack.credentials.keys.acmeServer, body);

    expect(reply.status).toBe(413);
    expect(reply.json).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('accepts a body just under 64 KiB', async () => {
    const body = { ...EVENT, data: { blob: 'x'.repeat(60_000) } };

    const reply = await publishHttp(sut.stack, sut.stack.credentials.keys.acmeServer, body);

    expect(reply.status).toBe(202);
  });

  // Standalone mode has no NATS to reach from outside: the block exists only for the distributed stack.
  if (sut.mode === 'distributed')
    describe('over NATS', () => {
      const subject = 'sb.svc.publisher.publish';

      it(`accepts a request on ${subject} and delivers the event`, async () => {
        const natsUrl = sut.stack.natsUrl ?? '';
        const client = await connectAs(sut.stack, 'alice');
        await subscribe(client, 'projects.updates', { project_id: 'proj_pub' });

        const reply = await publishNats(natsUrl, sut.stack.credentials.keys.acmeServer, EVENT);

        expect(reply).toEqual({ ok: true, id: matching(/^evt_/) });
        expect(await nextEvent(client)).toMatchObject({
          id: (reply as { id: string }).id,
          data: EVENT.data,
        });
      });

      it.each([
        ['an unknown key', 'invalid_credentials', 'sbk_unknown'],
        ['a client key', 'permission_denied', 'alice'],
      ] as const)('refuses %s with ok false and %s', async (_case, code, key) => {
        const natsUrl = sut.stack.natsUrl ?? '';
        const plain = key === 'alice' ? sut.stack.credentials.keys.alice : key;

        const reply = await publishNats(natsUrl, plain, EVENT);

        expect(reply).toMatchObject({ ok: false, code, message: anyString });
      });
    });
});
