import { describe, expect, it } from 'vitest';

import { spawnProcess, ServiceEntries } from '../harness/processes.ts';

describe('a service with a bad setting', () => {
  it.each([
    ['gateway', { PORT: 'eighty' }, 'PORT'],
    ['gateway', { PING_TIMEOUT_MS: '-1' }, 'PING_TIMEOUT_MS'],
    ['publisher', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['auth', { SWITCHBOARD_CONFIG: '/nonexistent/switchboard.json' }, 'SWITCHBOARD_CONFIG'],
  ] as const)('%s refuses to start with %j and names the key', async (service, env, key) => {
    const start = spawnProcess({
      name: service,
      command: process.execPath,
      args: ['--import', 'tsx', ServiceEntries[service]],
      env: { NATS_URL: 'nats://127.0.0.1:1', ...env },
      isReady: () => false,
    });
    await expect(start).rejects.toThrow(key);
  });
});
