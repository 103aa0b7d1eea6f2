import { describe, expect, it } from 'vitest';

import { redactUrl } from './logger.ts';

describe('redactUrl', () => {
  it('hides api_key and token values and keeps the rest', () => {
    expect(redactUrl('/v1/?client_id=c&api_key=sbk_secret&v=1')).toBe(
      '/v1/?client_id=c&api_key=[redacted]&v=1',
    );
    expect(redactUrl('/v1?token=abc')).toBe('/v1?token=[redacted]');
  });
});
