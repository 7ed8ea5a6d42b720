// The Jest example suite (run by test/examples/jest.test.ts, under node --experimental-vm-modules: ES modules, no
// transform). In a project of your own, `mailwire` comes from node_modules and moduleNameMapper is not needed; here it
// points at this repository's build (dist/), since Jest does not resolve a package importing itself by name.
export default {
  rootDir: '.',
  testMatch: ['<rootDir>/*.test.mjs'],
  transform: {},
  setupFilesAfterEnv: ['mailwire/jest'],
  moduleNameMapper: {
    '^mailwire$': '<rootDir>/../../dist/src/index.js',
    '^mailwire/(jest|expect)$': '<rootDir>/../../dist/src/testing/$1.js',
  },
  testTimeout: 20_000,
};
