/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Stops what each test file started through tests/support (explicit here, not on import).
  setupFilesAfterEnv: ['<rootDir>/tests/support/cleanup.ts'],
  // Integration suites start real nats-server, relays and Chromium; on 2 cores they must not all run at once.
  maxWorkers: 2,
  testTimeout: 30000,
};
