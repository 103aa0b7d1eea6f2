import Type from 'typebox';
import { describe, expect, it } from 'vitest';

import { ConfigError, envTable, loadEnv, Setting } from './env.ts';

const Schema = Type.Object({
  PORT: Setting.port(8080, 'port'),
  LOG_LEVEL: Setting.logLevel(),
  JWT_SECRET: Type.String({ minLength: 32, default: 'x'.repeat(32) }),
});

describe('loadEnv', () => {
  it('applies defaults and converts numbers', () => {
    expect(loadEnv(Schema, { PORT: '9000' })).toEqual({
      PORT: 9000,
      LOG_LEVEL: 'info',
      JWT_SECRET: 'x'.repeat(32),
    });
  });

  it('names the bad key and the value', () => {
    expect(() => loadEnv(Schema, { PORT: 'eighty' })).toThrow(/^PORT: .*"eighty"/);
    expect(() => loadEnv(Schema, { LOG_LEVEL: 'loud' })).toThrow(
      /LOG_LEVEL: must be one of fatal, error/,
    );
  });

  it('never echoes a secret', () => {
    try {
      loadEnv(Schema, { JWT_SECRET: 'short-secret' });
      expect.fail('should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).toContain('JWT_SECRET');
      expect(String(error)).not.toContain('short-secret');
    }
  });

  it('documents every key in a table', () => {
    expect(envTable(Schema)).toContain('| `PORT` | `8080` | port |');
  });
});
