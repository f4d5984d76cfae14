import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { FineractClient } from '../../src/fineract/types.js';
import { createMemoryQueue } from '../../src/jobs/queue.js';
import { TransferService } from '../../src/money/transfer-service.js';
import type { ReceiptWriter, TransferIntent, TransferServiceDeps } from '../../src/money/transfer-types.js';
import { newTransferKey } from '../../src/engine/registry-money-intent.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { createKeys } from '../../src/session/keys.js';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { AMINA, BARAKA, demoClient } from '../fineract/fixtures.js';

/** What the transfer-service tests share: a sandbox with a Fineract client and real Redis, intents, a service. */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const silent = pino({ level: 'silent' });

/** Receipts that carry the amount (and the reference or code), so a test can tell which one was sent. */
export const RECEIPTS: ReceiptWriter = {
  senderDone: (i) => `sent ${i.amountCents} ${i.ref}`,
  recipientDone: (i) => `received ${i.amountCents} ${i.ref}`,
  senderFailed: (i, code) => `failed ${i.amountCents} ${code}`,
  senderUnconfirmed: (i) => `unconfirmed ${i.amountCents}`,
};

/** A sandbox on HTTP, a Fineract client on it with the demo credentials, and a Redis store; see `stopMoneyRig`. */
export interface MoneyRig {
  sandbox: Sandbox;
  fineract: FineractClient;
  store: RedisStore;
}

export async function startMoneyRig(): Promise<MoneyRig> {
  const sandbox = await startSandbox();
  return { sandbox, fineract: demoClient(sandbox.url), store: createRedisStore(REDIS_URL) };
}

export async function stopMoneyRig(rig: Partial<MoneyRig>): Promise<void> {
  await rig.fineract?.close();
  await rig.store?.close();
  await rig.sandbox?.close();
}

/** 100.00 from Amina's savings to Baraka's under a fresh key, unless `overrides` say otherwise. */
export const transferIntent = (overrides: Partial<TransferIntent> = {}): TransferIntent => {
  const id = newTransferKey();
  return {
    id,
    ref: id.slice(0, 8).toUpperCase(),
    kind: 'send',
    msisdn: '+254711000001',
    lang: 'en',
    from: { ...AMINA },
    to: { ...BARAKA, type: 'savings' },
    amountCents: 100_00,
    currency: 'KES',
    counterparty: 'Baraka O.',
    ...overrides,
  };
};

/**
 * A transfer service on the rig with fresh keys, a memory queue, `RECEIPTS`, wide limits and a silent logger;
 * the sandbox's business date is its day. `overrides` replace any of these.
 */
export function transferService(rig: MoneyRig, overrides: Partial<TransferServiceDeps> = {}): TransferService {
  return new TransferService({
    store: rig.store,
    keys: createKeys(`kiunga-money-${randomBytes(4).toString('hex')}`),
    fineract: rig.fineract,
    queue: createMemoryQueue({ logger: silent }),
    receipts: RECEIPTS,
    limits: { minCents: 1000, maxCents: 10_000_000, dailyCents: 100_000_000 },
    callMaxMs: 1000,
    resolveMaxAgeMs: 900_000,
    logger: silent,
    today: () => rig.sandbox.bank.data.businessDate ?? new Date().toISOString().slice(0, 10),
    ...overrides,
  });
}
