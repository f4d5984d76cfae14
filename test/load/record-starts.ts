/**
 * Loaded into each server process of a load test (`node --import`): appends the time of every call the limiter
 * named by KIUNGA_TEST_STARTS_ID starts (epoch ms, one a line) to a file of its own in KIUNGA_TEST_STARTS_DIR,
 * from the limiter's diagnostics channel. Written at once, so the test reads every start while the process runs.
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { START_CHANNEL, type LimiterStart } from '../../src/limits/limiter-starts.js';

const id = process.env.KIUNGA_TEST_STARTS_ID;
const dir = process.env.KIUNGA_TEST_STARTS_DIR;
if (id && dir) {
  const file = join(dir, `${process.pid}.txt`);
  subscribe(START_CHANNEL, (message) => {
    const start = message as LimiterStart;
    if (start.id === id) appendFileSync(file, `${start.at}\n`);
  });
}
