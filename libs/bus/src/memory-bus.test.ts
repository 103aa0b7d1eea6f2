import { describe, expect, it } from 'vitest';

import { BusNoRespondersError, BusTimeoutError } from './errors.ts';
import { MemoryBus } from './memory-bus.ts';
import { subjectMatches } from './subject-match.ts';
import type { BusMessage } from './types.ts';

const bytes = (s: string): Uint8Array => Buffer.from(s);

describe('subjectMatches', () => {
  it.each([
    ['a.b', 'a.b', true],
    ['a.*', 'a.b', true],
    ['a.*', 'a.b.c', false],
    ['a.>', 'a.b.c', true],
    ['a.>', 'a', false],
    ['*.b', 'a.c', false],
  ])('%s against %s is %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});

describe('MemoryBus', () => {
  it('delivers asynchronously, in publish order, to exact and wildcard subscribers', async () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    bus.subscribe('x.1', (m) => got.push(`exact ${Buffer.from(m.data).toString()}`));
    bus.subscribe('x.*', (m) => got.push(`wild ${Buffer.from(m.data).toString()}`));

    bus.publish('x.1', bytes('a'));
    bus.publish('x.2', bytes('b'));
    expect(got).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual(['exact a', 'wild a', 'wild b']);
    await bus.drain();
  });

  it('stops delivering after unsubscribe, even for messages already queued', async () => {
    const bus = new MemoryBus();
    const got: BusMessage[] = [];
    const sub = bus.subscribe('s', (m) => got.push(m));
    bus.publish('s', bytes('1'));
    sub.unsubscribe();
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual([]);
  });

  it('answers requests from a served endpoint and passes headers', async () => {
    const bus = new MemoryBus();
    await bus.serve({ service: 't', name: 'echo', subject: 'svc.echo' }, (m) =>
      bytes(`${Buffer.from(m.data).toString()} ${m.headers?.h}`),
    );
    const reply = await bus.request('svc.echo', bytes('hi'), {
      timeoutMs: 100,
      headers: { h: 'there' },
    });
    expect(Buffer.from(reply.data).toString()).toBe('hi there');
  });

  it('fails requests nobody serves, and requests that take too long', async () => {
    const bus = new MemoryBus();
    await expect(bus.request('svc.none', bytes(''), { timeoutMs: 50 })).rejects.toBeInstanceOf(
      BusNoRespondersError,
    );
    await bus.serve(
      { service: 't', name: 'slow', subject: 'svc.slow' },
      () => new Promise(() => {}),
    );
    await expect(bus.request('svc.slow', bytes(''), { timeoutMs: 20 })).rejects.toBeInstanceOf(
      BusTimeoutError,
    );
  });

  it('reports a throwing handler instead of losing the rest of the batch', async () => {
    const bus = new MemoryBus();
    const errors: string[] = [];
    bus.onStatus((s) => errors.push(s.type));
    const got: string[] = [];
    bus.subscribe('s', () => {
      throw new Error('boom');
    });
    bus.subscribe('s', (m) => got.push(Buffer.from(m.data).toString()));
    bus.publish('s', bytes('ok'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual(['handler_error']);
    expect(got).toEqual(['ok']);
  });
});
