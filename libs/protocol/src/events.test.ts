import { describe, expect, it } from 'vitest';

import { encodeBusEvent, eventFrame, eventFramePrefix, isBusEvent } from './events.ts';
import { subscriptionId } from './server-messages.ts';

describe('event frames', () => {
  it('splice the subscription id into the bus payload without changing the data', () => {
    const data = { n: 1.5, s: 'ü"\\', nested: [null, true] };
    const { id, payload } = encodeBusEvent({
      channel: 'chat.messages',
      event: 'chat.message',
      data,
    });
    expect(isBusEvent(payload)).toBe(true);

    const frame = JSON.parse(eventFrame(eventFramePrefix('sub_x'), payload).toString()) as Record<
      string,
      unknown
    >;
    expect(frame).toMatchObject({
      type: 'event',
      subscription_id: 'sub_x',
      channel: 'chat.messages',
      id,
      data,
    });
    expect(frame.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('recognise payloads that are not events', () => {
    expect(isBusEvent(Buffer.from('{"type":"other"}'))).toBe(false);
    expect(isBusEvent(Buffer.from(''))).toBe(false);
  });
});

describe('subscriptionId', () => {
  it('depends on the channel and parameters only, not their order', () => {
    const a = subscriptionId('tasks.updates', { project_id: 'p', task_id: 't' });
    expect(subscriptionId('tasks.updates', { task_id: 't', project_id: 'p' })).toBe(a);
    expect(subscriptionId('tasks.updates', { project_id: 'p' })).not.toBe(a);
    expect(a).toMatch(/^sub_[A-Za-z0-9_-]{22}$/);
  });
});
