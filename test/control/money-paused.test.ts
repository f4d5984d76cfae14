/**
 * The money kill switch inside the transfer service (issue 10): while money is off, a new intent is refused
 * with `MoneyPaused` before any record, limit or request (so "nothing was sent" is the truth), an intent
 * already recorded keeps its outcome, and a background resolution does not send again until money is back.
 * Against the sandbox over HTTP and real Redis; the switches are a plain object with the `moneyAllowed` the
 * service reads (the switch board itself is tested in switch-board.test.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { createFineractClient } from '../../src/fineract/client.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { createMemoryQueue } from '../../src/jobs/queue.js';
import { MoneyPaused, TransferService, type ReceiptWriter, type TransferIntent } from '../../src/money/transfer-service.js';
import { newTransferKey } from '../../src/engine/registry-money.js';
import { DEMO, DEMO_SAVINGS, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { createKeys } from '../../src/session/keys.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { REDIS_URL } from '../helpers/server.js';

const logger = pino({ level: 'silent' });
const receipts: ReceiptWriter = {
  senderDone: (i, id) => `sent ${i.amountCents} ${id}`,
  recipientDone: (i, id) => `received ${i.amountCents} ${id}`,
  senderFailed: (i, code) => `failed ${i.amountCents} ${code}`,
  senderUnconfirmed: (i) => `unconfirmed ${i.amountCents}`,
};

let sandbox: Sandbox;
let fineract: FineractClient;
let store: RedisStore;
let moneyOn = true;

function service() {
  return new TransferService({
    store,
    keys: createKeys(`kiunga-paused-${randomBytes(4).toString('hex')}`),
    fineract,
    queue: createMemoryQueue({ logger }),
    receipts,
    limits: { minCents: 1000, maxCents: 10_000_000, dailyCents: 200_00 },
    callMaxMs: 1000,
    resolveMaxAgeMs: 900_000,
    switches: { moneyAllowed: () => moneyOn },
    logger,
    today: () => sandbox.bank.data.businessDate ?? new Date().toISOString().slice(0, 10),
  });
}

const intent = (): TransferIntent => {
  const id = newTransferKey();
  return {
    id,
    ref: id.slice(0, 8).toUpperCase(),
    kind: 'send',
    msisdn: '+254711000001',
    lang: 'en',
    from: { clientId: 1, officeId: 1, accountId: DEMO_SAVINGS.amina.id },
    to: { clientId: 2, officeId: 1, accountId: DEMO_SAVINGS.baraka.id, type: 'savings' },
    amountCents: 150_00,
    currency: 'KES',
    counterparty: 'Baraka O.',
  };
};
const commits = () => sandbox.control.requests.filter((r) => r.method === 'POST' && r.committed).length;

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
});
afterAll(async () => {
  await fineract?.close();
  await store?.close();
  await sandbox?.close();
});
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
