// The Vitest example suite (run by test/examples/vitest.test.ts). In a project of your own, `mailwire` comes from
// node_modules; here the package imports itself by name (package.json "exports"), so it must be built (dist/).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*.test.ts'],
    setupFiles: ['mailwire/vitest'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
