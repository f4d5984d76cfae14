import { describe, expect, it } from 'vitest';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cashOutFee, FEE_FILE, loadFeeSchedule, parseFeeSchedule } from '../../src/agents/fees.js';
import { lint } from '../../src/authoring/lint.js';

/** The agent fee schedule (issue 11): data checked with its schema, at start and by `kiunga lint`. */

describe('agent fee schedule', () => {
  it('should read the shipped schedule and price a cash-out by its band', () => {
    const schedule = loadFeeSchedule('flows');
    expect(schedule?.currency).toBe('KES');
    expect(cashOutFee(schedule, 1_000_00)).toBe(0);
    expect(cashOutFee(schedule, 1_000_01)).toBe(30_00);
    expect(cashOutFee(schedule, 2_000_00)).toBe(30_00);
    expect(cashOutFee(schedule, 2_500_01)).toBe(75_00);
    // Beyond every band (above the agents' maximum anyway), and with no schedule at all: free.
    expect(cashOutFee(schedule, 100_000_00)).toBe(0);
    expect(cashOutFee(undefined, 2_000_00)).toBe(0);
  });

  it('should refuse a gap, an overlap, a band upside down and an unknown field, naming the line', () => {
    const bad = [
      'currency: KES',
      'cashOut:',
      '  - { from: 0, to: 1000, fee: 0 }',
      '  - { from: 1500, to: 900, fee: 10 }',
      '  - { from: 901, to: 2000, fee: 20, vat: 1 }',
    ].join('\n');
    const { schedule, problems } = parseFeeSchedule(bad);
    expect(schedule).toBeUndefined();
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 4, message: 'from must not be above to' }),
        expect.objectContaining({ line: 5, message: expect.stringContaining('Unrecognized key') }),
      ]),
    );
    const gap = parseFeeSchedule(
      ['currency: KES', 'cashOut:', '  - { from: 0, to: 1000, fee: 0 }', '  - { from: 1002, to: 2000, fee: 20 }'].join('\n'),
    );
    expect(gap.problems).toEqual([
      expect.objectContaining({ line: 4, path: 'cashOut.1.from', message: expect.stringContaining('should start at 1001') }),
    ]);
  });

  it('should be checked by kiunga lint (rule fee-schedule), and stop the start when broken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiunga-fees-'));
    try {
      await cp('flows', dir, { recursive: true });
      const clean = await lint({ flowsDir: dir, localesDir: 'locales', fallback: 'en' });
      expect(clean.messages.filter((m) => m.rule === 'fee-schedule')).toEqual([]);
      const shipped = await readFile(join(dir, FEE_FILE), 'utf8');
      await writeFile(join(dir, FEE_FILE), shipped.replace('from: 100001,', 'from: 100002,'));
      const report = await lint({ flowsDir: dir, localesDir: 'locales', fallback: 'en' });
      expect(report.messages.filter((m) => m.rule === 'fee-schedule')).toEqual([
        expect.objectContaining({ severity: 'error', where: 'cashOut.1.from', message: expect.stringContaining('should start at 100001') }),
      ]);
      expect(() => loadFeeSchedule(dir)).toThrow(/agent-fees\.yaml:\d+: cashOut\.1\.from: .*100001/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
