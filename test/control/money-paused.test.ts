/**
 * The money kill switch inside the transfer service (issue 10): while money is off, a new intent is refused
 * with `MoneyPaused` before any record, limit or request (so "nothing was sent" is the truth), an intent
 * already recorded keeps its outcome, and a background resolution does not send again until money is back.
 * Against the sandbox over HTTP and real Redis; the switches are a plain object with the `moneyAllowed` the
 * service reads (the switch board itself is tested in switch-board.test.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MoneyPaused } from '../../src/money/transfer-types.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { startMoneyRig, stopMoneyRig, transferIntent, transferService, type MoneyRig } from '../money/fixtures.js';

let rig: MoneyRig;
let sandbox: Sandbox;
let moneyOn = true;

const service = () =>
  transferService(rig, {
    limits: { minCents: 1000, maxCents: 10_000_000, dailyCents: 200_00 },
    switches: { moneyAllowed: () => moneyOn },
  });
const intent = () => transferIntent({ amountCents: 150_00 });
const commits = () => sandbox.control.requests.filter((r) => r.method === 'POST' && r.committed).length;

beforeAll(async () => {
  rig = await startMoneyRig();
  sandbox = rig.sandbox;
});
afterAll(() => stopMoneyRig(rig ?? {}));
beforeEach(() => {
  sandbox.control.reset();
  moneyOn = true;
});

describe('money switched off in the transfer service', () => {
  it('should refuse a new intent before any record, limit or request, and send it once money is back on', async () => {
    const transfers = service();
    const paused = intent();
    moneyOn = false;
    const before = commits();
    await expect(transfers.execute(paused, Date.now() + 3000)).rejects.toBeInstanceOf(MoneyPaused);
    expect(commits()).toBe(before);
    // Nothing was counted against the daily limit (200.00): 150.00 still fits.
    expect(await transfers.checkLimits(1, 150_00)).toBeUndefined();
    moneyOn = true;
    expect(await transfers.execute(paused, Date.now() + 3000)).toMatchObject({ status: 'done' });
    expect(commits()).toBe(before + 1);
  });

  it('should still answer an intent already recorded with its outcome', async () => {
    const transfers = service();
    const sent = intent();
    const done = await transfers.execute(sent, Date.now() + 3000);
    expect(done).toMatchObject({ status: 'done' });
    moneyOn = false;
    expect(await transfers.execute(sent, Date.now() + 3000)).toEqual(done);
  });

  it('should not send a pending transfer again from its resolution while money is off', async () => {
    const transfers = service();
    const late = intent();
    // The hop's deadline has passed before the call: recorded, handed over, nothing sent.
    expect(await transfers.execute(late, Date.now())).toEqual({ status: 'processing' });
    const before = commits();
    moneyOn = false;
    await expect(transfers.resolve(1, late.id)).rejects.toBeInstanceOf(MoneyPaused);
    expect(commits()).toBe(before);
    moneyOn = true;
    await transfers.resolve(1, late.id);
    expect(commits()).toBe(before + 1);
  });
});
