/**
 * Node preload (`node --import ./clock-offset.mjs`) for the clock-step scenario: shifts this process's wall
 * clock (Date.now, new Date()) by the milliseconds in the file KIUNGA_TEST_CLOCK_FILE, re-read every 100 ms,
 * so a test steps the clock of one running process by writing that file, as an NTP step would. Timers and
 * performance.now() stay monotonic, as they do on a real machine.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { setInterval } from 'node:timers';

const file = process.env.KIUNGA_TEST_CLOCK_FILE;
const RealDate = Date;
let offset = 0;
const read = () => {
  try {
    offset = Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    offset = 0;
  }
};
if (file) {
  read();
  setInterval(read, 100).unref();
}

class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...args);
  }

  static now() {
    return RealDate.now() + offset;
  }
}
globalThis.Date = ShiftedDate;
