import { randomBytes } from 'node:crypto';

import { timestamp } from './server-messages.ts';

/**
 * Events travel on the bus already shaped as the client's `event` frame, less the
 * `subscription_id`. A gateway turns one into a frame by splicing the subscription
 * id in after the leading `{"type":"event",`, without parsing the payload.
 */
const HEAD = '{"type":"event",';
const HEAD_BYTES = Buffer.from(HEAD);

export function newEventId(): string {
  return `evt_${randomBytes(12).toString('base64url')}`;
}

/** Serialises an event for the bus; `data` goes out exactly as published. */
export function encodeBusEvent(input: {
  channel: string;
  event: string;
  data: unknown;
  id?: string;
}): {
  id: string;
  payload: Buffer;
} {
  const id = input.id ?? newEventId();
  const body = JSON.stringify({
    channel: input.channel,
    event: input.event,
    id,
    timestamp: timestamp(),
    data: input.data,
  });
  return { id, payload: Buffer.from(HEAD + body.slice(1)) };
}

/** True when a bus payload has the shape `encodeBusEvent` writes. */
export function isBusEvent(payload: Uint8Array): boolean {
  if (payload.length <= HEAD_BYTES.length) return false;
  for (let i = 0; i < HEAD_BYTES.length; i++) if (payload[i] !== HEAD_BYTES[i]) return false;
  return true;
}

/** The bytes that start every frame of one subscription. */
export function eventFramePrefix(subscriptionId: string): Buffer {
  return Buffer.from(`${HEAD}"subscription_id":${JSON.stringify(subscriptionId)},`);
}

/** Builds a client frame from a subscription's prefix and a bus payload. */
export function eventFrame(prefix: Buffer, payload: Uint8Array): Buffer {
  return Buffer.concat([prefix, payload.subarray(HEAD_BYTES.length)]);
}
