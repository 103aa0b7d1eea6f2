import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectAs, gatewayUrl, publish, subscribe } from '../conformance/steps.ts';
import { publishHttp } from '../harness/publish.ts';
import { distributed, type Stack } from '../harness/stacks.ts';
import { closeAllClients, connect } from '../harness/ws-client.ts';

const LEASE_MS = 2_000;

/**
 * What happens when parts of the distributed stack fail. The steps run in order on one
 * stack, each breaking a little more of it: a gateway crashes, then the channel-authorizer
 * (which holds the connection counts) stops, then auth.
 */
describe('the distributed stack, as its parts fail,', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await distributed.start({ HEARTBEAT_INTERVAL_MS: 500 }, { GATEWAY_LEASE_MS: LEASE_MS });
  }, 60_000);

  afterAll(async () => {
    await closeAllClients();
    await stack?.stop();
  }, 30_000);

  it('releases the connections of a crashed gateway once its lease runs out', async () => {
    for (let i = 0; i < 5; i++) await connectAs(stack, 'erin', 0);
    await stack.killGateway(0);

    const tooSoon = await connect(gatewayUrl(stack, { api_key: stack.credentials.keys.erin }, 1));
    expect(await tooSoon.next()).toMatchObject({
      type: 'auth_error',
      code: 'connection_limit_exceeded',
    });

    // The lease runs out on the NATS server's clock; there is no event to wait for.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 1_500));
    const later = await connectAs(stack, 'erin', 1);
    expect(later.isOpen).toBe(true);
  });

  it('keeps existing connections fed and fails new ones closed when the limits endpoint is down', async () => {
    const existing = await connectAs(stack, 'alice', 1);
    const subscriptionId = await subscribe(existing, 'chat.messages', { room_id: 'outage' });
    await stack.stopService('channel-authorizer');

    const newcomer = await connect(gatewayUrl(stack, { api_key: stack.credentials.keys.frank }, 1));
    expect(await newcomer.next()).toMatchObject({
      type: 'auth_error',
      code: 'server_error',
      temporary: true,
    });
    expect(newcomer.isOpen).toBe(true);

    await publish(stack, 'acmeServer', {
      channel: 'chat.messages',
      event: 'e',
      room_id: 'outage',
      data: 1,
    });
    expect(await existing.next((f) => f.type === 'event')).toMatchObject({
      subscription_id: subscriptionId,
    });

    existing.send({
      type: 'subscribe',
      channel: 'chat.messages',
      room_id: 'other',
      request_id: 'r',
    });
    expect(await existing.next((f) => f.request_id === 'r')).toMatchObject({
      type: 'error',
      code: 'server_error',
      temporary: true,
    });
  });

  it('fails authentication and publishing closed, with a temporary error, when auth is down', async () => {
    await stack.stopService('auth');

    const client = await connect(gatewayUrl(stack, { api_key: stack.credentials.keys.alice }, 1));
    expect(await client.next()).toMatchObject({
      type: 'auth_error',
      code: 'server_error',
      temporary: true,
    });

    const reply = await publishHttp(stack, stack.credentials.keys.acmeServer, {
      channel: 'chat.messages',
      event: 'e',
      room_id: 'outage',
      data: 1,
    });
    expect(reply).toMatchObject({
      status: 503,
      json: { error: { code: 'server_error', temporary: true } },
    });
  });
});
