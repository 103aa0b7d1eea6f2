import { describe, expect, it } from 'vitest';

import { OriginPolicy } from './origins.ts';

describe('OriginPolicy', () => {
  it('allows exactly the listed origins, and clients that send none', () => {
    const policy = new OriginPolicy('https://app.example.com, https://admin.example.com');
    expect(policy.allows('https://app.example.com')).toBe(true);
    expect(policy.allows('')).toBe(true);
    expect(policy.allows('https://app.example.com.evil.test')).toBe(false);
    expect(policy.allows('http://app.example.com')).toBe(false);
  });

  it('reads localhost as any port on the loopback names', () => {
    const policy = new OriginPolicy('localhost');
    expect(policy.allows('http://localhost:5173')).toBe(true);
    expect(policy.allows('http://127.0.0.1')).toBe(true);
    expect(policy.allows('http://localhost.evil.test')).toBe(false);
  });

  it('refuses every browser when the list is empty, and none with *', () => {
    expect(new OriginPolicy('').allows('https://a.test')).toBe(false);
    expect(new OriginPolicy('').refusesBrowsers).toBe(true);
    expect(new OriginPolicy('*').allows('https://a.test')).toBe(true);
  });
});
