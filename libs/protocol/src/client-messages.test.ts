import { describe, expect, it } from 'vitest';

import { parseClientMessage, subscribeParams } from './client-messages.ts';

describe('parseClientMessage', () => {
  it('accepts a subscribe with parameters at the top level', () => {
    const result = parseClientMessage(
      '{"type":"subscribe","channel":"tasks.updates","project_id":"p1","request_id":"r1"}',
    );
    expect(result.ok).toBe(true);
    if (result.ok && result.message.type === 'subscribe') {
      expect(subscribeParams(result.message)).toEqual({ project_id: 'p1' });
    }
  });

  it.each([
    ['not json', '{', undefined, undefined],
    ['an array', '[1]', undefined, undefined],
    ['a missing type', '{"request_id":"r"}', 'type', 'r'],
    ['an unknown type', '{"type":"dance","request_id":"r"}', 'type', 'r'],
    [
      'a channel of the wrong shape',
      '{"type":"subscribe","channel":5,"request_id":"r"}',
      'channel',
      'r',
    ],
    ['a missing channel', '{"type":"subscribe","request_id":"r"}', 'channel', 'r'],
    [
      'a numeric parameter',
      '{"type":"subscribe","channel":"c","project_id":7}',
      'project_id',
      undefined,
    ],
    ['a numeric request_id', '{"type":"ping","request_id":5}', 'request_id', undefined],
  ])('refuses %s, naming the field', (_name, text, field, requestId) => {
    const result = parseClientMessage(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.field).toBe(field);
      expect(result.requestId).toBe(requestId);
      expect(result.reason.length).toBeGreaterThan(0);
    }
  });

  it('never throws on hostile input', () => {
    for (const text of [
      'null',
      '"x"',
      '{"type":null}',
      '{"__proto__":{"type":"ping"}}',
      'x'.repeat(10_000),
    ]) {
      expect(() => parseClientMessage(text)).not.toThrow();
    }
  });
});
