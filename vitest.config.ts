import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Model inference and the demo-world builds use both cores; running files in parallel only thrashes.
    fileParallelism: false,
    reporters: ['default'],
  },
});
