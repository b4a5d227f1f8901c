/**
 * vitest runs only the suites written for it (folders named `vitest/` under test/); node:test
 * runs everything else (scripts/test.mjs keeps the two apart).
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/vitest/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
