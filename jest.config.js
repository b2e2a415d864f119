/** Jest runs the TypeScript sources through ts-jest; every suite talks to real servers. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 120000,
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
};
