import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejectionOf } from '../helpers/rejection.js';
import { type FineractClientOptions } from '../../src/fineract/client.js';
import { FineractError, FineractUnavailable, OwnershipError } from '../../src/fineract/errors.js';
import { FineractHttp, isServedFromCache, requestWithMeta, type FineractRequester } from '../../src/fineract/http.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { createLogger } from '../../src/logger.js';
import { DEMO, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { transferBody } from '../sandbox/api.js';
import { AMINA, BARAKA, BUSINESS_DATE, demoClient, transferRequest } from './fixtures.js';

/**
 * Exactly-once money movement when the network or Fineract misbehaves: idempotent replays, concurrent retries,
 * a timeout after Fineract committed, and Fineract 1.8 (no idempotency store), where only reconciliation by
 * the transfer's unique description prevents a double transfer.
 */

let sandbox: Sandbox;
const closers: { close(): Promise<void> }[] = [];

function client(overrides: Partial<FineractClientOptions> = {}): FineractClient {
  const c = demoClient(sandbox.url, { today: () => BUSINESS_DATE, ...overrides });
  closers.push(c);
  return c;
}

const request = transferRequest;

/** The transfer transaction id (what findTransfer finds) of the transfer detail a POST answered. */
const transactionOf = (detailId: number): number => sandbox.bank.data.transfers.find((t) => t.detailId === detailId)!.id;
const aminaBalance = (): number => sandbox.bank.balance(sandbox.bank.savingsAccount(AMINA.accountId)!);

beforeEach(async () => {
  sandbox = await startSandbox({ businessDate: BUSINESS_DATE });
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await sandbox.close();
});

describe('concurrent retries with one key', () => {
  it('moves money once: one fresh 200, the others 425 (retryable) or the replay', async () => {
    sandbox.control.writeLatencyMs = 150;
    const c = client();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => c.transfer(request('C1'))));
    const fresh = results.filter((r) => r.status === 'fulfilled' && !r.value.replayed);
    expect(fresh).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'fulfilled') expect(r.value.detailId).toBe(1);
      else expect(r.reason).toMatchObject({ httpStatus: 425, retryable: true, kind: 'unavailable' });
    }
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
    expect(aminaBalance()).toBe(12_500_00 - 500_00);
    expect(sandbox.control.requests.filter((r) => r.committed)).toHaveLength(1);
  });
});

describe('Fineract 1.8 (no idempotency store)', () => {
  it('moves money twice for a retried key: why Kiunga must reconcile before retrying', async () => {
    sandbox.control.version = '1.8';
    const c = client();
    const first = await c.transfer(request('V18'));
    const retry = await c.transfer(request('V18'));
    expect(retry.detailId).not.toBe(first.detailId);
    expect(retry.replayed).toBe(false);
    expect(aminaBalance()).toBe(12_500_00 - 1000_00);
  });

  it("findTransfer still works there, reading the account's transactions instead of the 1.9 search", async () => {
    sandbox.control.version = '1.8';
    const c = client();
    const { detailId } = await c.transfer(request('V18-find'));
    sandbox.control.clearRequests();
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send V18-find' })).toEqual({
      transactionId: transactionOf(detailId),
    });
    expect(sandbox.control.requests.map((r) => [r.path.split('/v1')[1], r.status])).toEqual([
      [`/savingsaccounts/${AMINA.accountId}/transactions/search`, 404],
      [`/savingsaccounts/${AMINA.accountId}`, 200],
    ]);
  });
});

describe('timeout after commit', () => {
  it('times out, although the money moved once; findTransfer finds it; a replay returns it without moving again', async () => {
    const c = client({ timeoutMs: 150 });
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'delay', ms: 1_000 };
    const err = c.transfer(request('T1'));
    await expect(err).rejects.toBeInstanceOf(FineractUnavailable);
    await expect(err).rejects.toMatchObject({ timedOut: true, retryable: true });
    expect(aminaBalance()).toBe(12_500_00 - 500_00);

    const found = await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send T1' });
    expect(found).toEqual({ transactionId: 1 });
    expect(await c.transfer(request('T1'))).toEqual({ detailId: 1, replayed: true });
    expect(aminaBalance()).toBe(12_500_00 - 500_00);
  });

  it('the same when the connection drops after the commit', async () => {
    const c = client();
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'destroy', ms: 0 };
    const err = c.transfer(request('D1'));
    await expect(err).rejects.toBeInstanceOf(FineractUnavailable);
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send D1' })).toEqual({ transactionId: 1 });
    expect(await c.transfer(request('D1'))).toEqual({ detailId: 1, replayed: true });
    expect(aminaBalance()).toBe(12_500_00 - 500_00);
  });
});

describe('findTransfer', () => {
  it('matches the exact description of a transfer out of that account only', async () => {
    const c = client();
    await c.transfer(request('F1'));
    const { detailId } = await c.transfer(request('F10'));
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send F10' })).toEqual({
      transactionId: transactionOf(detailId),
    });
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send F' })).toBeNull();
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send F2' })).toBeNull();
    // Baraka's account holds the credit leg with the same description: not a transfer *from* it.
    expect(await c.findTransfer({ fromAccountId: BARAKA.accountId, description: 'Kiunga send F10' })).toBeNull();
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: '  ' })).toBeNull();
  });

  it('looks only through the newest transactions (reconcileWindow)', async () => {
    const c = client({ reconcileWindow: 2 });
    const { detailId } = await c.transfer(request('W1'));
    await c.transfer(request('W2'));
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send W1' })).toEqual({
      transactionId: transactionOf(detailId),
    });
    await c.transfer(request('W3'));
    await c.transfer(request('W4'));
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send W1' })).toBeNull();
  });
});

describe('requestWithMeta', () => {
  it('gives status and headers, through FineractHttp or any pass-through requester', async () => {
    const http = new FineractHttp({
      baseUrl: sandbox.url,
      tenant: DEMO.tenant,
      username: DEMO.username,
      password: DEMO.password,
      timeoutMs: 2_000,
    });
    closers.push(http);
    const wrapper: FineractRequester = { request: (m, p, o) => http.request(m, p, o), close: async () => undefined };
    const body = transferBody({ transferAmount: 5, transferDescription: 'meta' });
    const first = await http.requestWithMeta<{ resourceId: number }>('POST', '/accounttransfers', { body, idempotencyKey: 'meta-1' });
    expect(first).toMatchObject({ status: 200, body: { savingsId: 1, resourceId: 1 } });
    expect(first.headers['content-type']).toBe('application/json');
    expect(isServedFromCache(first)).toBe(false);
    const replay = await requestWithMeta(wrapper, 'POST', '/accounttransfers', { body, idempotencyKey: 'meta-1' });
    expect(isServedFromCache(replay)).toBe(true);
    expect(replay.body).toEqual(first.body);

    sandbox.control.writeLatencyMs = 100;
    const slow = http.request('POST', '/accounttransfers', { body, idempotencyKey: 'meta-2' });
    await new Promise((r) => setTimeout(r, 30));
    const seen: number[] = [];
    const busy = http.request('POST', '/accounttransfers', { body, idempotencyKey: 'meta-2', onResponse: (m) => seen.push(m.status) });
    await expect(busy).rejects.toBeInstanceOf(FineractUnavailable);
    await expect(busy).rejects.toMatchObject({ httpStatus: 425, retryable: true });
    expect(seen).toEqual([425]);
    await slow;
  });
});

describe('no credentials in errors or logs', () => {
  it('keeps the service password and Basic token out of every error and log line', async () => {
    const secretUser = 'svc-kiunga';
    const secret = 'S3cr3t-P4ss!';
    const token = Buffer.from(`${secretUser}:${secret}`).toString('base64');
    await sandbox.close();
    sandbox = await startSandbox({ businessDate: BUSINESS_DATE, username: secretUser, password: secret });
    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        lines.push(chunk.toString());
        done();
      },
    });
    const c = client({ username: secretUser, password: secret, timeoutMs: 150, logger: createLogger('debug', sink) });
    const wrong = client({ username: secretUser, password: `${secret}x`, logger: createLogger('debug', sink) });

    const errors: Error[] = [];
    errors.push(await rejectionOf(wrong.transfer(request('P0'))));
    errors.push(await rejectionOf(c.transfer(request('P1', { amount: '99999' }))));
    errors.push(await rejectionOf(c.transfer(request('P2', { from: { ...AMINA, accountId: BARAKA.accountId } }))));
    sandbox.control.readOnly = true;
    errors.push(await rejectionOf(c.transfer(request('P3'))));
    sandbox.control.readOnly = false;
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'delay', ms: 1_000 };
    errors.push(await rejectionOf(c.transfer(request('P4'))));
    sandbox.control.errorRate = 1;
    errors.push(await rejectionOf(c.findTransfer({ fromAccountId: 1, description: 'x' })));

    expect(errors.map((e) => e.constructor.name)).toEqual([
      'FineractUnauthorized',
      'FineractRejected',
      'OwnershipError',
      'FineractRejected',
      'FineractUnavailable',
      'FineractUnavailable',
    ]);
    for (const e of errors) {
      expect(e instanceof FineractError || e instanceof OwnershipError).toBe(true);
      const text = [e.message, String(e), e.stack ?? '', JSON.stringify(e)].join('\n');
      for (const leak of [secret, token, 'Basic ', 'authorization']) expect(text).not.toContain(leak);
    }
    const log = lines.join('');
    expect(log).toContain('transfer');
    for (const leak of [secret, token]) expect(log).not.toContain(leak);
  });
});
