// Run by Jest before each test file (jest.config.js setupFilesAfterEnv): whatever a test file
// started through tests/support is stopped after its tests, also when a test failed, and killed if
// the worker exits first (an interrupted run).
import { stopAllProcesses, testProcesses } from './processes';

const killNow = () => testProcesses.killAllNow();
process.once('exit', killNow);
afterAll(async () => {
  await stopAllProcesses();
  process.off('exit', killNow);
}, 30_000);
