import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { INSUFFICIENT_FUNDS } from '../../src/fineract/rejection-codes.js';
import { FineractRejected } from '../../src/fineract/errors.js';
import { createMemoryQueue, type JobQueue } from '../../src/jobs/queue.js';
import { RESOLVE_JOB, SMS_JOB } from '../../src/jobs/catalogue.js';
import { failureCode, TransferService } from '../../src/money/transfer-service.js';
import { transferDescription } from '../../src/money/transfer-call.js';
import type { TransferIntent } from '../../src/money/transfer-types.js';
import { newTransferKey } from '../../src/engine/registry-money-intent.js';
import { DEMO_SAVINGS, type Sandbox } from '../../src/sandbox/index.js';
import { createKeys, type Keys } from '../../src/session/keys.js';
import { RECEIPTS, startMoneyRig, stopMoneyRig, transferIntent, transferService, type MoneyRig } from './fixtures.js';

/** The transfer service against the sandbox over HTTP and real Redis (threats T24, T30; Fineract error codes). */

let rig: MoneyRig;
let sandbox: Sandbox;

function service(now?: () => number) {
  const queue = createMemoryQueue({ logger: pino({ level: 'silent' }) });
  return { transfers: transferService(rig, { queue, now }), queue };
}

const intent = transferIntent;
const balance = (accountId: number) => sandbox.bank.balance(sandbox.bank.savingsAccount(accountId)!);
const commits = () => sandbox.control.requests.filter((r) => r.method === 'POST' && r.committed).length;
const collisions = async (t: TransferService) => {
  const counter = t.metrics.find((m) => (m as { name?: string }).name === 'kiunga_transfer_key_collisions_total')!;
  const values = (await counter.get()).values;
  return values.reduce((sum, v) => sum + v.value, 0);
};

beforeAll(async () => {
  rig = await startMoneyRig();
  sandbox = rig.sandbox;
});
afterAll(() => stopMoneyRig(rig ?? {}));
beforeEach(() => sandbox.control.reset());

describe('idempotency keys (threat T24)', () => {
  it("should draw random keys that fit Fineract's idempotency column (VARCHAR(50))", () => {
    const keys = new Set(Array.from({ length: 1000 }, newTransferKey));
    expect(keys.size).toBe(1000);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{32}$/);
  });

  it('should never report success for a key whose record holds another intent', async () => {
    const { transfers, queue } = service();
    const first = intent();
    expect(await transfers.execute(first, Date.now() + 3000)).toMatchObject({ status: 'done' });
    const before = [balance(DEMO_SAVINGS.amina.id), commits()];
    const other = { ...first, amountCents: 300_00 };
    expect(await transfers.execute(other, Date.now() + 3000)).toEqual({ status: 'failed', code: 'rejected' });
    expect(
      await transfers.execute({ ...first, to: { ...first.to, clientId: 3, accountId: DEMO_SAVINGS.chanya.id } }, Date.now() + 3000),
    ).toEqual({
      status: 'failed',
      code: 'rejected',
    });
    expect([balance(DEMO_SAVINGS.amina.id), commits()]).toEqual(before);
    expect(await collisions(transfers)).toBe(2);
    // The same intent again is the same movement (a retry): its first outcome.
    expect(await transfers.execute(first, Date.now() + 3000)).toMatchObject({ status: 'done' });
    await queue.close();
  });

  it('should treat a replayed Fineract answer on a key never sent before as a collision, never "done"', async () => {
    const { transfers, queue } = service();
    const mine = intent({ amountCents: 250_00 });
    // Someone else's movement already used this key at Fineract.
    await rig.fineract.transfer({
      from: { clientId: 3, officeId: 1, accountId: DEMO_SAVINGS.chanya.id },
      to: { clientId: 2, officeId: 1, accountId: DEMO_SAVINGS.baraka.id, type: 'savings' },
      amount: '40.00',
      description: transferDescription(mine),
      idempotencyKey: mine.id,
    });
    const before = [balance(DEMO_SAVINGS.amina.id), commits()];
    expect(await transfers.execute(mine, Date.now() + 3000)).toEqual({ status: 'processing' });
    expect([balance(DEMO_SAVINGS.amina.id), commits()]).toEqual(before);
    expect(sandbox.control.requests.filter((r) => r.method === 'POST').at(-1)).toMatchObject({
      idempotencyKey: mine.id,
      servedFromCache: true,
    });
    expect(await collisions(transfers)).toBe(1);
    // Operators see it; the resolution only looks, it never sends the key again.
    expect(await transfers.listUncertain()).toEqual([expect.objectContaining({ ref: mine.ref, collision: true, amount: '250.00' })]);
    const posts = sandbox.control.requests.filter((r) => r.method === 'POST').length;
    await expect(transfers.resolve(1, mine.id)).rejects.toThrow(/collision/);
    expect(sandbox.control.requests.filter((r) => r.method === 'POST').length).toBe(posts);
    await queue.close();
  });

  it('should not report success when the replayed answer belongs to a movement with another description', async () => {
    const { transfers, queue } = service();
    const mine = intent({ amountCents: 260_00 });
    await rig.fineract.transfer({
      from: { clientId: 3, officeId: 1, accountId: DEMO_SAVINGS.chanya.id },
      to: { clientId: 2, officeId: 1, accountId: DEMO_SAVINGS.baraka.id, type: 'savings' },
      amount: '45.00',
      description: 'someone else',
      idempotencyKey: mine.id,
    });
    const before = [balance(DEMO_SAVINGS.amina.id), commits()];
    expect(await transfers.execute(mine, Date.now() + 3000)).toEqual({ status: 'processing' });
    expect([balance(DEMO_SAVINGS.amina.id), commits()]).toEqual(before);
    await queue.close();
  });
});

describe('resolution age (threat T30)', () => {
  it('should not send again past the maximum age, and should send again before it', async () => {
    let clock = Date.now();
    const { transfers, queue } = service(() => clock);
    const stale = intent({ amountCents: 120_00 });
    const fresh = intent({ amountCents: 130_00 });
    // Both writes are refused by a read-only instance: nothing moved, outcome not known to Kiunga.
    sandbox.control.readOnly = true;
    expect(await transfers.execute(stale, Date.now() + 3000)).toEqual({ status: 'processing' });
    expect(await transfers.execute(fresh, Date.now() + 3000)).toEqual({ status: 'processing' });
    sandbox.control.readOnly = false;
    const before = commits();
    clock += 901_000;
    await expect(transfers.resolve(1, stale.id)).rejects.toThrow(/maximum age/);
    expect(commits()).toBe(before);
    expect((await transfers.listUncertain()).find((t) => t.ref === stale.ref)).toMatchObject({ pastMaxAge: true });
    clock -= 901_000;
    await transfers.resolve(1, fresh.id);
    expect(commits()).toBe(before + 1);
    expect((await transfers.listUncertain()).map((t) => t.ref)).toEqual([stale.ref]);
    await queue.close();
  });
});

describe('receipts of a settled transfer (threat T29)', () => {
  it('should queue the receipt again when the run that settled it was cut off while queueing it, and send it once', async () => {
    const real = createMemoryQueue({ logger: pino({ level: 'silent' }) });
    const sent: string[] = [];
    real.handle(SMS_JOB, async (data) => void sent.push(data.text));
    // The first SMS job hangs as bullmq's add does while its connection is cut off (it holds the command):
    // the run that settled the transfer stops there, as it would if its process died or stayed cut off.
    const held: (() => Promise<void>)[] = [];
    const queue: JobQueue = {
      ...real,
      add: (name, data, options) => {
        if (name === SMS_JOB && held.length === 0)
          return new Promise<void>((resolve) => held.push(() => real.add(name, data, options).then(resolve)));
        return real.add(name, data, options);
      },
    };
    const transfers = transferService(rig, { queue });
    const paid = intent({ amountCents: 140_00 });
    const before = commits();
    void transfers.execute(paid, Date.now() + 3000);
    for (let i = 0; i < 300 && held.length === 0; i++) await sleep(10);
    expect([held.length, commits()]).toEqual([1, before + 1]);

    // The transfer's resolution job (queued before its call, run by another worker) finds it done and queues
    // its receipt.
    real.handle(RESOLVE_JOB, (data) => transfers.resolve(data.clientId, data.id));
    await real.start();
    await real.idle(10_000);
    expect(sent).toEqual([RECEIPTS.senderDone(paid)]);
    // The cut-off run's command goes through at last: the same job id, taken once.
    await held[0]!();
    await real.idle(5000);
    expect(sent).toHaveLength(1);
    expect(commits()).toBe(before + 1);
    await real.close();
  });
});

describe('failureCode', () => {
  it("should read insufficient funds with and without a withdrawal fee through the client's own predicate", () => {
    expect(failureCode(new FineractRejected('x', 403, INSUFFICIENT_FUNDS))).toBe('insufficient');
    expect(failureCode(new FineractRejected('x', 403, `${INSUFFICIENT_FUNDS}.withdraw`))).toBe('insufficient');
    expect(failureCode(new FineractRejected('x', 405, 'error.msg.invalid.instance.type'))).toBeUndefined();
    expect(failureCode(new FineractRejected('x', 400, 'error.msg.something.else'))).toBe('rejected');
  });
});

describe("Fineract's ids of a done transfer, each under its own name (docs/fineract.md §6.2)", () => {
  const recordOf = async (keys: Keys, i: TransferIntent) =>
    JSON.parse((await rig.store.get(keys.forCustomer(i.from.clientId, `transfer:${i.id}`)))!) as Record<string, unknown>;

  it("should keep the POST's detail id as detailId, and a reconciled transfer's transaction id as transactionId", async () => {
    const keys = createKeys(`kiunga-money-ids-${randomBytes(4).toString('hex')}`);
    const transfers = transferService(rig, { keys });
    const posted = intent();
    const outcome = await transfers.execute(posted, Date.now() + 3000);
    const detail = sandbox.bank.data.transfers.at(-1)!;
    expect(outcome).toEqual({ status: 'done', detailId: detail.detailId });
    expect(await recordOf(keys, posted)).toMatchObject({ status: 'done', detailId: detail.detailId });
    expect(await recordOf(keys, posted)).not.toHaveProperty('transactionId');

    // The connection drops after Fineract committed: only reconciliation knows it, by the transaction id.
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'destroy', ms: 0 };
    const lost = intent();
    expect(await transfers.execute(lost, Date.now() + 3000)).toEqual({ status: 'processing' });
    await transfers.resolve(lost.from.clientId, lost.id);
    const moved = sandbox.bank.data.transfers.at(-1)!;
    expect(moved.description).toBe(`Kiunga send ${lost.ref}`);
    expect(await transfers.execute(lost, Date.now() + 3000)).toEqual({ status: 'done', transactionId: moved.id });
    expect(await recordOf(keys, lost)).not.toHaveProperty('detailId');
  });

  it('should read the transferId of a record written before issue 13 as its transaction id', async () => {
    const keys = createKeys(`kiunga-money-ids-${randomBytes(4).toString('hex')}`);
    const transfers = transferService(rig, { keys });
    const old = intent();
    const record = { intent: old, status: 'done', transferId: 77, createdAt: Date.now(), updatedAt: Date.now() };
    await rig.store.set(keys.forCustomer(old.from.clientId, `transfer:${old.id}`), JSON.stringify(record), 60_000);
    expect(await transfers.execute(old, Date.now() + 3000)).toEqual({ status: 'done', transactionId: 77 });
  });
});
