import { expect } from 'vitest';

import type { KeyName } from '../harness/credentials.ts';
import { publishHttp } from '../harness/publish.ts';
import type { Stack } from '../harness/stacks.ts';
import {
  connect,
  ofType,
  type ClientOptions,
  type Frame,
  type TestClient,
} from '../harness/ws-client.ts';

/** ISO 8601 in UTC with milliseconds, as every protocol timestamp is written. */
export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/*
 * Asymmetric matchers typed `unknown`: vitest types them `any`, which the lint rules
 * refuse to see assigned into an expected object.
 */
export const anyString: unknown = expect.any(String);
export const anyObject: unknown = expect.any(Object);
export function matching(pattern: RegExp): unknown {
  return expect.stringMatching(pattern);
}

let requestCounter = 0;

/** A request_id no other request of the run uses. */
export function newRequestId(prefix = 'req'): string {
  requestCounter += 1;
  return `${prefix}_${requestCounter}`;
}

/** The WebSocket URL of a gateway with query parameters added. */
export function gatewayUrl(stack: Stack, query: Record<string, string> = {}, gateway = 0): string {
  const base = stack.gatewayUrls.at(gateway);
  if (!base) throw new Error(`the stack has no gateway ${gateway}`);
  const url = new URL(base);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.toString();
}

/** Connects with `?api_key=` and waits for auth_success. */
export async function connectAs(
  stack: Stack,
  key: KeyName,
  gateway = 0,
  options: ClientOptions = {},
): Promise<TestClient> {
  const client = await connect(
    gatewayUrl(stack, { api_key: stack.credentials.keys[key] }, gateway),
    options,
  );
  // The server's keep-alive ping may come first when PING_INTERVAL_MS is short.
  const first = await client.next((frame) => frame.type !== 'ping');
  expect(first).toMatchObject({ type: 'auth_success' });
  return client;
}

/** Sends `message` with a fresh request_id and returns the reply that carries it back. */
export async function request(
  client: TestClient,
  message: Record<string, unknown>,
): Promise<Frame> {
  const requestId = newRequestId(String(message.type));
  client.send({ ...message, request_id: requestId });
  return client.next((frame) => frame.request_id === requestId);
}

/** Subscribes and returns the subscription id; fails with the server's answer otherwise. */
export async function subscribe(
  client: TestClient,
  channel: string,
  params: Record<string, string> = {},
): Promise<string> {
  const reply = await request(client, { type: 'subscribe', channel, ...params });
  expect(reply).toMatchObject({ type: 'subscription_success', channel });
  return String(reply.subscription_id);
}

/** Publishes over HTTP, expects 202 and returns the event id. */
export async function publish(
  stack: Stack,
  key: KeyName,
  body: Record<string, unknown>,
): Promise<string> {
  const reply = await publishHttp(stack, stack.credentials.keys[key], body);
  expect(reply, `publish of ${JSON.stringify(body)}`).toMatchObject({ status: 202 });
  const { id } = reply.json as { id: string };
  return id;
}

/** The next event frame, of one subscription when `subscriptionId` is given. */
export function nextEvent(client: TestClient, subscriptionId?: string): Promise<Frame> {
  return client.next(
    (frame) =>
      frame.type === 'event' &&
      (subscriptionId === undefined || frame.subscription_id === subscriptionId),
  );
}

export { ofType };
