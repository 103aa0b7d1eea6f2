import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { BenchContext } from '../lib/context.ts';
import { startProcess } from '../lib/process.ts';
import { SwitchboardSystem } from './switchboard.ts';
import { nodeFlags, type ServerHandle, type StartOptions, type SystemUnderTest } from './types.ts';

export { SYSTEM_NAMES, type ServerHandle, type SystemName, type SystemUnderTest } from './types.ts';

const SYSTEMS_DIR = dirname(fileURLToPath(import.meta.url));
const ROOM_PREFIX = 'sb.ev.bench.chat.messages.';

class Baseline implements SystemUnderTest {
  constructor(
    readonly name: 'uws' | 'ws' | 'socketio',
    readonly proto: 'sb' | 'sio',
  ) {}

  unavailable(): string | undefined {
    return undefined;
  }

  async start(ctx: BenchContext, options: StartOptions): Promise<ServerHandle> {
    const server = await startProcess({
      name: this.name,
      command: process.execPath,
      args: [...nodeFlags(options), join(SYSTEMS_DIR, `${this.name}.ts`)],
      env: {
        PORT: String(ctx.serverPort),
        HOST: '127.0.0.1',
        NATS_URL: ctx.nats.url,
        ROOM_PREFIX,
        ...options.env,
      },
      cpus: ctx.cpus.server,
      readyText: '"msg":"ready"',
      nofile: 1_048_576,
    });
    return {
      system: this.name,
      server,
      port: ctx.serverPort,
      path: this.proto === 'sio' ? '/socket.io/?EIO=4&transport=websocket' : '/v1/',
      proto: this.proto,
      subjectPrefix: ROOM_PREFIX,
      stop: () => server.stop(),
    };
  }

  async close(): Promise<void> {}
}

/** Every system, in table order. */
export function allSystems(): SystemUnderTest[] {
  return [
    new SwitchboardSystem(ROOM_PREFIX),
    new Baseline('uws', 'sb'),
    new Baseline('ws', 'sb'),
    new Baseline('socketio', 'sio'),
  ];
}
