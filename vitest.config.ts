import { defineConfig } from 'vitest/config';

/** Tests that read files only, though they live with the conformance suite. */
const STACKLESS = ['test/conformance/docs-in-step.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['libs/**/src/**/*.test.ts', 'services/**/src/**/*.test.ts', ...STACKLESS],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...STACKLESS],
          testTimeout: 30_000,
          hookTimeout: 90_000,
          // Every file starts its own stacks (up to seven processes); one file at a time
          // keeps them from starving each other of CPU and ports.
          fileParallelism: false,
        },
      },
    ],
  },
});
