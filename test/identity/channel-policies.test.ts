import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';

import {
  delegateSubject,
  permissionChangeSubject,
  ServiceSubjects,
  type DelegateReply,
  type DelegateRequest,
  type PermissionChange,
} from '@switchboard/protocol';

import { describeEachStack } from '../conformance/matrix.ts';
import {
  connectAs,
  gatewayUrl,
  nextEvent,
  publish,
  request,
  subscribe,
} from '../conformance/steps.ts';
import type { Stack } from '../harness/stacks.ts';
import { connect, type Frame, type TestClient } from '../harness/ws-client.ts';

/** A subscription that is no longer allowed must end within this long. */
const WITHIN_MS = 2_000;

const CHANNELS = {
  channels: [
    {
      name: 'projects.updates',
      description: 'Projects the JWT lists in its projects claim',
      params: { project_id: {} },
      publishRequires: ['project_id'],
      policy: { type: 'claim', claim: 'projects', param: 'project_id' },
    },
    {
      name: 'boards.updates',
      description: 'Boards whose membership the boards service keeps',
      params: { board_id: { pattern: 'b[0-9]+' } },
      publishRequires: ['board_id'],
      policy: { type: 'delegate', resource: 'boards', param: 'board_id', cacheTtlMs: 60_000 },
    },
    {
      name: 'reports.daily',
      params: { report_id: { required: true } },
      policy: { type: 'scope', scope: 'reports:read' },
    },
    {
      name: 'vaults.events',
      params: { vault_id: { required: true } },
      policy: { type: 'delegate', resource: 'vaults', param: 'vault_id', timeoutMs: 250 },
    },
  ],
};

/**
 * The boards service of these tests: answers `sb.authz.boards` from a membership table,
 * announces changes on `sb.authz.changed.acme`, and never answers `sb.authz.vaults`.
 */
class BoardsService {
  readonly members = new Map<string, Set<string>>();
  readonly asked: DelegateRequest[] = [];

  private constructor(private readonly nc: NatsConnection) {}

  static async start(url: string): Promise<BoardsService> {
    const service = new BoardsService(
      await natsConnect({ servers: url, reconnectTimeWait: 50, maxReconnectAttempts: -1 }),
    );
    service.nc.subscribe(delegateSubject('boards'), {
      callback: (_err, msg) => {
        const request = msg.json<DelegateRequest>();
        service.asked.push(request);
        msg.respond(JSON.stringify(service.#answer(request)));
      },
    });
    // Takes vault questions and lets them time out.
    service.nc.subscribe(delegateSubject('vaults'), { callback: () => undefined });
    await service.nc.flush();
    return service;
  }

  #answer(request: DelegateRequest): DelegateReply {
    const boards = this.members.get(request.user_id ?? '') ?? new Set<string>();
    if (request.id === undefined) return { decision: 'allow', ids: [...boards].sort() };
    if (request.id === 'b404') return { decision: 'not_found', reason: 'No board b404' };
    return boards.has(request.id)
      ? { decision: 'allow' }
      : { decision: 'deny', reason: `Not a member of board ${request.id}` };
  }

  async change(change: PermissionChange): Promise<void> {
    this.nc.publish(permissionChangeSubject('acme'), JSON.stringify(change));
    await this.nc.flush();
  }

  /** Counts authorize requests between gateways and the authorizer (distributed mode). */
  watchAuthorizer(): { readonly count: () => number } {
    let seen = 0;
    this.nc.subscribe(ServiceSubjects.authorizeSubscribe, {
      callback: () => {
        seen++;
      },
    });
    return { count: () => seen };
  }

  /** Resolves once the connection works again, after the server restarted. */
  async reconnected(): Promise<void> {
    for (;;) {
      try {
        return await this.nc.flush();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async stop(): Promise<void> {
    await this.nc.close();
  }
}

async function withToken(stack: Stack, claims: Record<string, unknown>): Promise<TestClient> {
  const client = await connect(gatewayUrl(stack));
  const token = await stack.credentials.signToken(claims);
  expect(await request(client, { type: 'auth', token })).toMatchObject({ type: 'auth_success' });
  return client;
}

/** POSTs a permission change to the admin API with the admin key; the HTTP status. */
async function announce(stack: Stack, change: Record<string, unknown>): Promise<number> {
  const response = await fetch(
    stack.publishUrl.replace('/v1/events', '/v1/admin/permission-changes'),
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.credentials.keys.acmeAdmin}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(change),
    },
  );
  return response.status;
}

function refused(code: string, reason?: string | RegExp): Record<string, unknown> {
  return {
    type: 'error',
    code,
    ...(reason === undefined ? {} : { details: expect.objectContaining({ reason }) }),
  };
}

function eventOf(subscriptionId: string): (frame: Frame) => boolean {
  return (f) => f.type === 'event' && f.subscription_id === subscriptionId;
}

/** Asserts that no event of `subscriptionId` arrives within `ms`. */
async function silent(client: TestClient, subscriptionId: string, ms = 300): Promise<void> {
  const got = await client.next(eventOf(subscriptionId), ms).catch(() => undefined);
  expect(got).toBeUndefined();
}

function ended(subscriptionId: string): (frame: Frame) => boolean {
  return (f) => f.type === 'subscription_error' && f.subscription_id === subscriptionId;
}

describeEachStack(
  'channel policies',
  {},
  (sut) => {
    let boards: BoardsService;
    beforeAll(async () => {
      boards = await BoardsService.start(sut.stack.domainNatsUrl!);
    });
    afterAll(() => boards?.stop());
    beforeEach(() => {
      boards.members.clear();
      boards.asked.length = 0;
    });

    const event = (channel: string, params: Record<string, string>, n: number) =>
      publish(sut.stack, 'acmeServer', { channel, event: 'changed', ...params, data: { n } });

    it('claim lists: allows listed ids, refuses others, and limits a subscription without one', async () => {
      const { stack } = sut;
      const client = await withToken(stack, { sub: 'amy', projects: ['p1', 'p2'] });
      await subscribe(client, 'projects.updates', { project_id: 'p1' });
      expect(
        await request(client, { type: 'subscribe', channel: 'projects.updates', project_id: 'p3' }),
      ).toMatchObject(
        refused('permission_denied', 'project_id p3 is not listed in your projects claim'),
      );

      const all = await subscribe(client, 'projects.updates');
      await event('projects.updates', { project_id: 'p3' }, 3);
      await event('projects.updates', { project_id: 'p2' }, 2);
      // p3 was published first; the wildcard subscription sees p2 only.
      expect(await nextEvent(client, all)).toMatchObject({ data: { n: 2 } });

      const keyUser = await connectAs(stack, 'alice');
      expect(
        await request(keyUser, { type: 'subscribe', channel: 'projects.updates' }),
      ).toMatchObject(refused('permission_denied', 'The credential has no projects claim'));
    });

    it('scope: a channel needs the scope its policy names', async () => {
      const { stack } = sut;
      const plain = await connectAs(stack, 'alice');
      expect(
        await request(plain, { type: 'subscribe', channel: 'reports.daily', report_id: 'r1' }),
      ).toMatchObject(refused('permission_denied', 'The credential lacks the reports:read scope'));

      const reader = await withToken(stack, { sub: 'amy', scope: 'subscribe reports:read' });
      await subscribe(reader, 'reports.daily', { report_id: 'r1' });
    });

    it('parameter schemas from the file are enforced', async () => {
      const client = await connectAs(sut.stack, 'alice');
      expect(
        await request(client, { type: 'subscribe', channel: 'boards.updates', board_id: 'x1' }),
      ).toMatchObject(
        refused('invalid_subscription', 'Invalid parameter board_id: must match b[0-9]+'),
      );
    });

    it('delegate: allow, deny and not_found, with the principal and id sent to the service', async () => {
      boards.members.set('alice', new Set(['b1']));
      const client = await connectAs(sut.stack, 'alice');
      const id = await subscribe(client, 'boards.updates', { board_id: 'b1' });
      expect(boards.asked[0]).toMatchObject({
        tenant: 'acme',
        user_id: 'alice',
        resource: 'boards',
        id: 'b1',
        channel: 'boards.updates',
        action: 'subscribe',
      });
      await event('boards.updates', { board_id: 'b1' }, 1);
      expect(await nextEvent(client, id)).toMatchObject({ data: { n: 1 } });

      expect(
        await request(client, { type: 'subscribe', channel: 'boards.updates', board_id: 'b2' }),
      ).toMatchObject(refused('permission_denied', 'Not a member of board b2'));
      expect(
        await request(client, { type: 'subscribe', channel: 'boards.updates', board_id: 'b404' }),
      ).toMatchObject(refused('resource_not_found', 'No board b404'));
    });

    it('delegate that does not answer in time: deny with a temporary server_error', async () => {
      const client = await connectAs(sut.stack, 'alice');
      expect(
        await request(client, { type: 'subscribe', channel: 'vaults.events', vault_id: 'v1' }),
      ).toMatchObject({
        ...refused('server_error', 'The vaults service did not answer within 250 ms'),
        temporary: true,
      });
    });

    it('a member removed while subscribed loses the subscription within 2 s; a new grant extends the wildcard one', async () => {
      boards.members.set('bea', new Set(['b1', 'b2']));
      boards.members.set('cal', new Set(['b1']));
      const bea = await withToken(sut.stack, { sub: 'bea' });
      const cal = await withToken(sut.stack, { sub: 'cal' });
      const one = await subscribe(bea, 'boards.updates', { board_id: 'b1' });
      const all = await subscribe(bea, 'boards.updates');
      const cals = await subscribe(cal, 'boards.updates', { board_id: 'b1' });

      boards.members.set('bea', new Set(['b2']));
      const started = Date.now();
      await boards.change({ user_id: 'bea', resource: 'boards', id: 'b1' });
      expect(await bea.next(ended(one), WITHIN_MS)).toMatchObject({
        type: 'subscription_error',
        channel: 'boards.updates',
        board_id: 'b1',
        code: 'permission_denied',
        details: { reason: 'Not a member of board b1' },
      });
      expect(Date.now() - started).toBeLessThan(WITHIN_MS);

      // Nothing of b1 reaches bea any more, on either subscription; cal is untouched.
      await event('boards.updates', { board_id: 'b1' }, 1);
      await event('boards.updates', { board_id: 'b2' }, 2);
      expect(await nextEvent(bea, all)).toMatchObject({ data: { n: 2 } });
      expect(await nextEvent(cal, cals)).toMatchObject({ data: { n: 1 } });
      await silent(bea, one);
      expect(bea.pending().filter((f) => f.type === 'event')).toEqual([]);
      expect(await request(bea, { type: 'unsubscribe', subscription_id: one })).toMatchObject(
        refused('invalid_subscription'),
      );

      // Added to b3: the subscription without board_id now covers it.
      boards.members.set('bea', new Set(['b2', 'b3']));
      await boards.change({ user_id: 'bea', resource: 'boards' });
      const granted = Date.now();
      let got: Frame | undefined;
      // Events of b3 carry n from 100 on; bea's b2 event was taken above.
      for (let n = 100; !got && Date.now() - granted < WITHIN_MS; n++) {
        await event('boards.updates', { board_id: 'b3' }, n);
        got = await bea.next(eventOf(all), 200).catch(() => undefined);
      }
      expect(got).toMatchObject({ data: { n: expect.any(Number) as number } });
      expect((got?.data as { n: number }).n).toBeGreaterThanOrEqual(100);
    });

    it('the admin API announces permission changes too', async () => {
      const { stack } = sut;
      boards.members.set('dan', new Set(['b5']));
      const dan = await withToken(stack, { sub: 'dan' });
      const id = await subscribe(dan, 'boards.updates', { board_id: 'b5' });
      boards.members.set('dan', new Set());

      expect(await announce(stack, { user_id: 'dan', resource: 'boards' })).toBe(202);
      expect(await dan.next(ended(id), WITHIN_MS)).toMatchObject({ code: 'permission_denied' });

      expect(await announce(stack, { user_id: 'a.b' })).toBe(400);
    });

    it('a refreshed token with a shorter claim list ends what it no longer covers', async () => {
      const { stack } = sut;
      const client = await withToken(stack, { sub: 'eve', projects: ['p1', 'p2'] });
      const one = await subscribe(client, 'projects.updates', { project_id: 'p1' });
      const all = await subscribe(client, 'projects.updates');

      const token = await stack.credentials.signToken({ sub: 'eve', projects: ['p2'] });
      expect(await request(client, { type: 'auth', token })).toMatchObject({
        type: 'auth_success',
      });
      expect(await client.next(ended(one), WITHIN_MS)).toMatchObject({
        code: 'permission_denied',
      });
      await event('projects.updates', { project_id: 'p1' }, 1);
      await event('projects.updates', { project_id: 'p2' }, 2);
      expect(await nextEvent(client, all)).toMatchObject({ data: { n: 2 } });
    });

    it('a change missed while NATS was down is caught when the connection to it comes back', async () => {
      boards.members.set('gus', new Set(['b8']));
      const gus = await withToken(sut.stack, { sub: 'gus' });
      const id = await subscribe(gus, 'boards.updates', { board_id: 'b8' });

      // Taken away with no change announced, as if it had been published during the outage.
      boards.members.set('gus', new Set());
      await sut.stack.restartDomainNats();
      await boards.reconnected();
      expect(await gus.next(ended(id), 15_000)).toMatchObject({
        code: 'permission_denied',
        details: { reason: 'Not a member of board b8' },
      });
    }, 30_000);

    it('a reconnecting client restores many subscriptions with one authorizer round trip', async () => {
      const { stack } = sut;
      boards.members.set('fay', new Set(['b1', 'b2', 'b3', 'b4', 'b5']));
      const watch = boards.watchAuthorizer();
      await boards.change({ user_id: 'fay' }); // a round trip through NATS before counting
      const before = watch.count();

      const client = await connect(gatewayUrl(stack));
      const token = await stack.credentials.signToken({ sub: 'fay' });
      client.send({ type: 'auth', token, request_id: 'a' });
      const ids = ['b1', 'b2', 'b3', 'b4', 'b5'];
      for (const board of ids)
        client.send({
          type: 'subscribe',
          channel: 'boards.updates',
          board_id: board,
          request_id: board,
        });
      expect(await client.next((f) => f.request_id === 'a')).toMatchObject({
        type: 'auth_success',
      });
      for (const board of ids)
        expect(await client.next((f) => f.request_id === board)).toMatchObject({
          type: 'subscription_success',
          board_id: board,
        });
      // The authorizer is behind NATS only in distributed mode; standalone checks the answers.
      if (sut.mode === 'distributed') expect(watch.count() - before).toBe(1);
    });
  },
  { channels: CHANNELS, domainNats: true },
);
