import { describe, expect, it } from 'vitest';

import { redactUrl, redactUserinfo } from './logger.ts';

describe('redactUrl', () => {
  it('hides api_key and token values and keeps the rest', () => {
    expect(redactUrl('/v1/?client_id=c&api_key=sbk_secret&v=1')).toBe(
      '/v1/?client_id=c&api_key=[redacted]&v=1',
    );
    expect(redactUrl('/v1?token=abc')).toBe('/v1?token=[redacted]');
  });
});

describe('redactUserinfo', () => {
  it('hides user and password of every server URL', () => {
    expect(redactUserinfo('nats://u:p@a:4222,tls://t0k3n@b:4222,nats://c:4222')).toBe(
      'nats://[redacted]@a:4222,tls://[redacted]@b:4222,nats://c:4222',
    );
  });
});
