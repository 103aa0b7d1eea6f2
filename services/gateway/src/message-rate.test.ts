import { describe, expect, it } from 'vitest';

import { MessageRate } from './message-rate.ts';

describe('MessageRate', () => {
  it('warns once at 80 %, refuses past the limit, then asks to close', () => {
    const rate = new MessageRate();
    const kinds = Array.from({ length: 20 }, () => rate.check(10, 1_000).kind);
    expect(kinds.slice(0, 7)).toEqual(Array(7).fill('ok'));
    expect(kinds[7]).toBe('warn');
    expect(kinds.slice(8, 10)).toEqual(['ok', 'ok']);
    expect(kinds.slice(10, 15)).toEqual(Array(5).fill('refuse'));
    expect(kinds[15]).toBe('close');
  });

  it('starts a fresh window after a minute', () => {
    const rate = new MessageRate();
    for (let i = 0; i < 11; i++) rate.check(10, 0);
    expect(rate.check(10, 59_999).kind).toBe('refuse');
    expect(rate.check(10, 60_000).kind).toBe('ok');
  });

  it('never limits an unlimited plan', () => {
    const rate = new MessageRate();
    for (let i = 0; i < 10_000; i++) expect(rate.check(null).kind).toBe('ok');
  });
});
