import { afterAll, afterEach, beforeAll, describe, type TestContext } from 'vitest';

import {
  STACK_LAUNCHERS,
  type GatewaySettings,
  type Stack,
  type StackOptions,
  type StackMode,
} from '../harness/stacks.ts';
import { closeAllClients } from '../harness/ws-client.ts';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const OUTPUT_LINES_ON_FAILURE = 60;

/** What a suite body sees: the mode now, and the stack once `beforeAll` has started it. */
export interface StackUnderTest {
  readonly mode: StackMode;
  readonly stack: Stack;
}

/**
 * The conformance matrix: runs `body` once against each deployment (standalone, then
 * distributed), with a stack started for the block and the clients closed after each test.
 */
export function describeEachStack(
  title: string,
  settings: GatewaySettings,
  body: (sut: StackUnderTest) => void,
  /** How to deploy; a function runs before each stack starts (e.g. to start a JWKS endpoint). */
  options: StackOptions | (() => Promise<StackOptions>) = {},
): void {
  const table = STACK_LAUNCHERS.map((launcher) => [launcher.mode, launcher] as const);
  describe.each(table)(`${title}, in %s mode,`, (_mode, launcher) => {
    let running: Stack | undefined;
    const sut: StackUnderTest = {
      mode: launcher.mode,
      get stack(): Stack {
        if (!running) throw new Error(`the ${launcher.mode} stack did not start`);
        return running;
      },
    };

    beforeAll(async () => {
      const resolved = typeof options === 'function' ? await options() : options;
      running = await launcher.start(settings, {}, resolved);
    }, START_TIMEOUT_MS);

    afterEach(async (context: TestContext) => {
      await closeAllClients();
      if (context.task.result?.state === 'fail' && running) {
        const tail = running.output().split('\n').slice(-OUTPUT_LINES_ON_FAILURE).join('\n');
        process.stderr.write(`\n--- ${launcher.mode} stack output (tail) ---\n${tail}\n`);
      }
    });

    afterAll(async () => {
      await closeAllClients();
      await running?.stop();
    }, STOP_TIMEOUT_MS);

    body(sut);
  });
}
