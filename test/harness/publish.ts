import { connect, headers } from '@nats-io/transport-node';

import { ServiceSubjects } from '@switchboard/protocol';

export interface HttpReply {
  readonly status: number;
  /** The parsed body, or undefined when it was not JSON. */
  readonly json: unknown;
  readonly text: string;
}

/** Which header carries the key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export type KeyHeader = 'authorization' | 'x-api-key';

function keyHeaders(key: string | undefined, via: KeyHeader): Record<string, string> {
  if (key === undefined) return {};
  return via === 'authorization' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key };
}

/** POSTs `text` as it is, for bodies that are not valid JSON or are too large. */
export async function postRaw(
  url: string,
  headerValues: Record<string, string>,
  text: string,
): Promise<HttpReply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headerValues },
    body: text,
  });
  const body = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text: body };
}

/** Publishes an event through the HTTP API; `key` undefined sends no credentials. */
export function publishHttp(
  stack: { readonly publishUrl: string },
  key: string | undefined,
  body: unknown,
  options: { via?: KeyHeader } = {},
): Promise<HttpReply> {
  return postRaw(
    stack.publishUrl,
    keyHeaders(key, options.via ?? 'authorization'),
    JSON.stringify(body),
  );
}

/** Publishes an event by a NATS request to the publisher service; returns its parsed reply. */
export async function publishNats(natsUrl: string, key: string, body: unknown): Promise<unknown> {
  const nc = await connect({ servers: natsUrl, name: 'switchboard-tests' });
  try {
    const h = headers();
    h.set('authorization', `Bearer ${key}`);
    const reply = await nc.request(ServiceSubjects.publish, JSON.stringify(body), {
      headers: h,
      timeout: 5_000,
    });
    return reply.json<unknown>();
  } finally {
    await nc.close();
  }
}
