// Preloaded into `kiunga serve` by test/ops/shutdown.test.ts only: on SIGUSR2, a promise is rejected that
// nothing handles, with an error carrying a field (as an ioredis error carries its command's arguments) that
// must never reach a log line or the console.
import process from 'node:process';

process.on('SIGUSR2', () => {
  const error = Object.assign(new Error('a fault injected by the test'), { command: { name: 'evalsha', args: ['never-logged-4821'] } });
  void Promise.reject(error);
});
