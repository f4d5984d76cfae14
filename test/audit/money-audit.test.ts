import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createFineractClient } from '../../src/fineract/client.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { createMemoryQueue } from '../../src/jobs/queue.js';
import { TransferService, type ReceiptWriter, type TransferIntent } from '../../src/money/transfer-service.js';
import { newTransferKey } from '../../src/engine/registry-money.js';
import { DEMO, DEMO_SAVINGS, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { field, freshKeys, REDIS_URL, rows, silent, trail } from './helpers.js';

/**
 * Every money movement leaves its attempt and its outcome in the audit trail (threat T16): the idempotency
 * key, the amount in minor units, the masked counterparty, then Fineract's id or the reason it failed.
 */

let sandbox: Sandbox;
let fineract: FineractClient;
let store: RedisStore;
beforeAll(async () => {
  sandbox = await startSandbox();
  fineract = createFineractClient({
    baseUrl: sandbox.url,
    tenant: DEMO.tenant,
    username: DEMO.username,
    password: DEMO.password,
    timeoutMs: 2000,
    defaultCountry: 'KE',
  });
  store = createRedisStore(REDIS_URL);
  await store.ping();
});
afterAll(async () => {
  await fineract?.close();
  await store?.close();
  await sandbox?.close();
});

const receipts: ReceiptWriter = {
  senderDone: () => 'done',
  recipientDone: () => 'received',
  senderFailed: () => 'failed',
  senderUnconfirmed: () => 'unconfirmed',
};

function intent(amountCents: number): TransferIntent {
  const id = newTransferKey();
  return {
    id,
    ref: id.slice(0, 8).toUpperCase(),
    kind: 'send',
    msisdn: '+254711000001',
    lang: 'en',
    from: { clientId: 1, officeId: 1, accountId: DEMO_SAVINGS.amina.id },
    to: { clientId: 2, officeId: 1, accountId: DEMO_SAVINGS.baraka.id, type: 'savings' },
    amountCents,
    currency: 'KES',
    counterparty: 'Baraka O.',
  };
}

describe('money in the audit trail', () => {
  it('should record the attempt before the request and the outcome after it, done or failed', async () => {
    const keys = freshKeys();
    const audit = trail(store, keys);
    const queue = createMemoryQueue({ logger: silent });
    const transfers = new TransferService({
      store,
      keys,
      fineract,
      queue,
      receipts,
      limits: { minCents: 1000, maxCents: 1_000_000_000, dailyCents: 1_000_000_000_000 },
      callMaxMs: 1000,
      resolveMaxAgeMs: 900_000,
      logger: silent,
      today: () => sandbox.bank.data.businessDate ?? new Date().toISOString().slice(0, 10),
      audit,
    });

    const done = intent(150_00);
    const outcome = await transfers.execute(done, Date.now() + 3000);
    expect(outcome).toMatchObject({ status: 'done' });
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
    expect(entries[1]).toMatchObject({ data: { status: 'done', transferId: (outcome as { transferId: number }).transferId } });
    expect(entries[3]).toMatchObject({ data: { status: 'failed', reason: 'insufficient' } });
    expect(await verifyAudit({ store, keys })).toEqual({ ok: true, entries: 4, checkpoints: 0 });
    await queue.close();
    await audit.close();
  });
});
