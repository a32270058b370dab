import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real mediasoup workers and Chromium: on 2 cores, run files one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
