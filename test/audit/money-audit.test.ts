import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createMemoryQueue } from '../../src/jobs/queue.js';
import type { TransferIntent } from '../../src/money/transfer-types.js';
import { DEMO_SAVINGS } from '../../src/sandbox/index.js';
import type { RedisStore } from '../../src/session/redis-store.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { startMoneyRig, stopMoneyRig, transferIntent, transferService, type MoneyRig } from '../money/fixtures.js';
import { field, freshKeys, rows, silent, trail } from './helpers.js';

/**
 * Every money movement leaves its attempt and its outcome in the audit trail (threat T16): the idempotency
 * key, the amount in minor units, the masked counterparty, then Fineract's detail id or the reason it failed.
 */

let rig: MoneyRig;
let store: RedisStore;
beforeAll(async () => {
  rig = await startMoneyRig();
  store = rig.store;
  await store.ping();
});
afterAll(() => stopMoneyRig(rig ?? {}));

const intent = (amountCents: number): TransferIntent => transferIntent({ amountCents });

describe('money in the audit trail', () => {
  it('should record the attempt before the request and the outcome after it, done or failed', async () => {
    const keys = freshKeys();
    const audit = trail(store, keys);
    const queue = createMemoryQueue({ logger: silent });
    const transfers = transferService(rig, {
      keys,
      queue,
      limits: { minCents: 1000, maxCents: 1_000_000_000, dailyCents: 1_000_000_000_000 },
      audit,
    });

    const done = intent(150_00);
    const outcome = await transfers.execute(done, Date.now() + 3000);
    // Fineract's detail id from the POST's answer, under its own name (docs/fineract.md §6.2).
    const { detailId } = rig.sandbox.bank.data.transfers.find((t) => t.description === `Kiunga send ${done.ref}`)!;
    expect(outcome).toEqual({ status: 'done', detailId });
    // More than Amina holds: Fineract refuses it.
    const refused = intent(5_000_000_00);
    expect(await transfers.execute(refused, Date.now() + 3000)).toEqual({ status: 'failed', code: 'insufficient' });
    await audit.flush();

    const entries = (await rows(store.client as Redis, keys)).map(([, f]) => JSON.parse(field(f, 'e')) as Record<string, unknown>);
    expect(entries.map((e) => [e.type, (e.data as { idempotencyKey: string }).idempotencyKey])).toEqual([
      ['money.attempt', done.id],
      ['money.outcome', done.id],
      ['money.attempt', refused.id],
      ['money.outcome', refused.id],
    ]);
    expect(entries[0]).toMatchObject({
      actor: 'customer:1',
      clientId: 1,
      msisdn: '+2547******01',
      data: {
        ref: done.ref,
        kind: 'send',
        amountMinor: 150_00,
        currency: 'KES',
        counterparty: 'Baraka O.',
        fromAccountId: DEMO_SAVINGS.amina.id,
        toAccountId: DEMO_SAVINGS.baraka.id,
        send: 1,
      },
    });
    expect(entries[1]).toMatchObject({ data: { status: 'done', ref: done.ref, detailId } });
    expect(entries[1]!.data).not.toHaveProperty('transferId');
    expect(entries[3]).toMatchObject({ data: { status: 'failed', reason: 'insufficient' } });
    expect(await verifyAudit({ store, keys })).toEqual({ ok: true, entries: 4, checkpoints: 0 });
    await queue.close();
    await audit.close();
  });
});
