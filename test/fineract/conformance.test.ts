import { afterEach, describe, expect, it } from 'vitest';
import { type FineractClientOptions } from '../../src/fineract/client.js';
import { FineractRejected, FineractReplayedFailure, FineractUnavailable, isReplayedFailure } from '../../src/fineract/errors.js';
import { FineractHttp, type FineractRequester } from '../../src/fineract/http.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { todayAt, addDays } from '../../src/sandbox/dates.js';
import { postSavings } from '../../src/sandbox/ledger.js';
import { DEMO, DEMO_SAVINGS, startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import { AMINA, BUSINESS_DATE, demoClient, transferRequest } from './fixtures.js';

/**
 * Kiunga's client against the sandbox answering as the Apache Fineract source does (docs/fineract.md): the
 * Spring page of `transactions/search`, reconciliation past the newest 100 transactions, a failure stored under an
 * idempotency key, the tenant's business date, and the two transfer id sequences.
 */

const CHANYA = { clientId: 3, officeId: 1, accountId: DEMO_SAVINGS.chanya.id };

let sandbox: Sandbox | undefined;
const closers: { close(): Promise<void> }[] = [];

async function start(options: SandboxOptions = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ businessDate: BUSINESS_DATE, ...options });
  return sandbox;
}

/** The sandbox's raw HTTP layer with the demo tenant's credentials (what a proxy or an operator would call). */
function demoHttp(s: Sandbox): FineractHttp {
  return new FineractHttp({ baseUrl: s.url, tenant: DEMO.tenant, username: DEMO.username, password: DEMO.password, timeoutMs: 2_000 });
}

function client(s: Sandbox, overrides: Partial<FineractClientOptions> = {}): FineractClient {
  const c = demoClient(s.url, { timeZone: 'Africa/Nairobi', ...overrides });
  closers.push(c);
  return c;
}

const request = transferRequest;

const balanceOf = (s: Sandbox, accountId: number): number => s.bank.balance(s.bank.savingsAccount(accountId)!);
const apiPath = (p: string): string => p.split('/api/v1')[1] ?? p;
/** The transfer transaction id (what findTransfer finds) of the transfer detail a POST answered. */
const transactionOf = (s: Sandbox, detailId: number): number => s.bank.data.transfers.find((t) => t.detailId === detailId)!.id;

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await sandbox?.close();
  sandbox = undefined;
});

describe('transactions/search answers a Spring page (Fineract 1.9, 1.10, HEAD)', () => {
  it('finds a transfer in {content, total} without falling back to the whole account', async () => {
    const s = await start();
    const c = client(s, { today: () => BUSINESS_DATE });
    const { detailId } = await c.transfer(request('PAGE1'));
    s.control.clearRequests();
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send PAGE1' })).toEqual({
      transactionId: transactionOf(s, detailId),
    });
    expect(s.control.requests.map((r) => [apiPath(r.path), r.status])).toEqual([
      [`/savingsaccounts/${AMINA.accountId}/transactions/search`, 200],
    ]);
  });

  it('falls back to ?associations=transactions when the search answers another shape', async () => {
    const s = await start();
    const http = demoHttp(s);
    // A proxy (or a version) that answers the search with something else.
    const reshaping: FineractRequester = {
      request: async (method, path, options) => {
        const body = await http.request(method, path, options);
        return (path.endsWith('/transactions/search') ? { items: body } : body) as never;
      },
      close: () => http.close(),
    };
    const c = client(s, { today: () => BUSINESS_DATE, http: reshaping });
    const { detailId } = await c.transfer(request('SHAPE1'));
    s.control.clearRequests();
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send SHAPE1' })).toEqual({
      transactionId: transactionOf(s, detailId),
    });
    expect(s.control.requests.map((r) => apiPath(r.path))).toEqual([
      `/savingsaccounts/${AMINA.accountId}/transactions/search`,
      `/savingsaccounts/${AMINA.accountId}`,
    ]);
  });
});

describe('reconciliation of a busy account (an agent float)', () => {
  /** The transfer, then `count` newer withdrawals from the same account (dated `newerOn`); its transaction id. */
  async function busyFloat(s: Sandbox, c: FineractClient, transferOn: string, newerOn: string, count = 150): Promise<number> {
    const { detailId } = await c.transfer(
      request('FLOAT1', { from: CHANYA, to: { ...AMINA, type: 'savings' }, amount: '10.00', date: transferOn }),
    );
    const float = s.bank.savingsAccount(CHANYA.accountId)!;
    for (let i = 0; i < count; i++) postSavings(s.bank, float, 2, newerOn, 100);
    return transactionOf(s, detailId);
  }

  it('pages back past the newest 100 transactions until onOrAfter, and finds the transfer', async () => {
    const s = await start();
    const c = client(s, { today: () => BUSINESS_DATE });
    const transactionId = await busyFloat(s, c, BUSINESS_DATE, BUSINESS_DATE);
    s.control.clearRequests();
    const found = await c.findTransfer({ fromAccountId: CHANYA.accountId, description: 'Kiunga send FLOAT1', onOrAfter: BUSINESS_DATE });
    expect(found).toEqual({ transactionId });
    const searches = s.control.requests.filter((r) => r.path.endsWith('/transactions/search'));
    expect(searches.map((r) => new URLSearchParams(r.query).get('offset'))).toEqual(['0', '1']);
    expect(new URLSearchParams(searches[0]!.query).get('fromDate')).toBe(BUSINESS_DATE);
  });

  it('without onOrAfter looks through the newest page only (the old window)', async () => {
    const s = await start();
    const c = client(s, { today: () => BUSINESS_DATE });
    await busyFloat(s, c, BUSINESS_DATE, BUSINESS_DATE);
    expect(await c.findTransfer({ fromAccountId: CHANYA.accountId, description: 'Kiunga send FLOAT1' })).toBeNull();
  });

  it('stops at onOrAfter: a transfer dated before it is not looked for', async () => {
    const s = await start();
    const c = client(s, { today: () => BUSINESS_DATE });
    const older = addDays(BUSINESS_DATE, -2);
    const transactionId = await busyFloat(s, c, older, addDays(BUSINESS_DATE, -1));
    expect(await c.findTransfer({ fromAccountId: CHANYA.accountId, description: 'Kiunga send FLOAT1', onOrAfter: older })).toEqual({
      transactionId,
    });
    s.control.clearRequests();
    expect(
      await c.findTransfer({ fromAccountId: CHANYA.accountId, description: 'Kiunga send FLOAT1', onOrAfter: addDays(BUSINESS_DATE, -1) }),
    ).toBeNull();
    expect(s.control.requests.filter((r) => r.path.endsWith('/transactions/search'))).toHaveLength(2);
  });

  it('a search cut off by its page limit is uncertain, never "not found"', async () => {
    const s = await start();
    const c = client(s, { today: () => BUSINESS_DATE, reconcileMaxPages: 1 });
    await busyFloat(s, c, BUSINESS_DATE, BUSINESS_DATE);
    const err = c.findTransfer({ fromAccountId: CHANYA.accountId, description: 'Kiunga send NOPE', onOrAfter: BUSINESS_DATE });
    await expect(err).rejects.toBeInstanceOf(FineractUnavailable);
    await expect(err).rejects.toMatchObject({ retryable: true });
  });
});

describe('a failed idempotency key stays failed', () => {
  it('a 500 stored inside the command is replayed forever and is final ("not executed")', async () => {
    const s = await start();
    const c = client(s, { today: () => BUSINESS_DATE });
    s.control.failMode = 'command-500';
    const first = c.transfer(request('POISON'));
    // The live 500 says nothing about where it failed: retryable.
    await expect(first).rejects.toBeInstanceOf(FineractUnavailable);
    s.control.failMode = 'none';
    for (let i = 0; i < 2; i++) {
      const replay = c.transfer(request('POISON'));
      await expect(replay).rejects.toBeInstanceOf(FineractReplayedFailure);
      await expect(replay).rejects.toBeInstanceOf(FineractRejected);
      await expect(replay).rejects.toSatisfy(isReplayedFailure);
      await expect(replay).rejects.toMatchObject({ kind: 'rejected', retryable: false, httpStatus: 500, servedFromCache: true });
    }
    expect(balanceOf(s, AMINA.accountId)).toBe(12_500_00);
    expect(s.control.requests.filter((r) => r.committed)).toHaveLength(0);
    // A new key moves money: nothing else is poisoned.
    await c.transfer(request('FRESH'));
    expect(balanceOf(s, AMINA.accountId)).toBe(12_000_00);
  });

  it('a 500 before the command (not stored) is retryable, and the same key then succeeds', async () => {
    const s = await start();
    const c = client(s, { today: () => BUSINESS_DATE });
    s.control.failMode = '500';
    const err = c.transfer(request('TRANSIENT'));
    await expect(err).rejects.toBeInstanceOf(FineractUnavailable);
    await expect(err).rejects.not.toSatisfy(isReplayedFailure);
    s.control.failMode = 'none';
    expect(await c.transfer(request('TRANSIENT'))).toMatchObject({ replayed: false });
  });
});

describe("the transfer date is Fineract's business date", () => {
  const nairobiToday = (): string => todayAt(180);

  it('a business date one day behind the wall clock: the transfer carries it and succeeds', async () => {
    const yesterday = addDays(nairobiToday(), -1);
    const s = await start({ businessDate: yesterday });
    const c = client(s);
    expect(await c.businessDate()).toBe(yesterday);
    const { detailId } = await c.transfer(request('BD1'));
    expect(s.bank.data.transfers.find((t) => t.detailId === detailId)?.date).toBe(yesterday);
    // Kiunga's own clock would have been refused, as Fineract refuses it.
    const future = c.transfer(request('BD2', { date: nairobiToday() }));
    await expect(future).rejects.toBeInstanceOf(FineractRejected);
    await expect(future).rejects.toMatchObject({ httpStatus: 400, code: 'error.msg.savingsaccount.transaction.in.the.future' });
  });

  it('with enable_business_date off, today in the tenant zone, whatever stale row GET /businessdate holds', async () => {
    const s = await start({ businessDate: addDays(nairobiToday(), -10), businessDateEnabled: false });
    const c = client(s);
    expect(await c.businessDate()).toBe(nairobiToday());
    await c.transfer(request('BD3'));
    expect(s.control.requests.some((r) => apiPath(r.path) === '/businessdate/BUSINESS_DATE')).toBe(false);
  });

  it('is cached: two transfers read the configuration and the date once', async () => {
    const s = await start({ businessDate: addDays(nairobiToday(), -1) });
    const c = client(s);
    await c.transfer(request('BD4'));
    await c.transfer(request('BD5'));
    expect(c.businessDateNow()).toBe(addDays(nairobiToday(), -1));
    const reads = s.control.requests
      .map((r) => apiPath(r.path))
      .filter((p) => p.startsWith('/configurations') || p.startsWith('/businessdate'));
    expect(reads).toEqual(['/configurations/name/enable_business_date', '/businessdate/BUSINESS_DATE']);
  });

  it('without READ_CONFIGURATION it falls back to today in the tenant zone (never throws)', async () => {
    const s = await start();
    s.control.deniedPermissions.add('READ_CONFIGURATION');
    const c = client(s);
    expect(await c.businessDate()).toBe(nairobiToday());
  });
});

describe('transfer ids: detail id (POST resourceId) and transaction id (legs, GET /accounttransfers/{id})', () => {
  it("answers the POST's detail id as detailId with no read after it; findTransfer answers the transaction id", async () => {
    const s = await start();
    s.bank.data.lastTransferDetailId = 40; // standing instructions created details with no transaction yet
    const c = client(s, { today: () => BUSINESS_DATE });
    const result = await c.transfer(request('IDS1'));
    const record = s.bank.data.transfers.at(-1)!;
    expect(record.detailId).toBe(41);
    expect(record.id).not.toBe(41);
    expect(result).toEqual({ detailId: 41, replayed: false });
    expect(s.control.requests.filter((r) => apiPath(r.path).startsWith('/accounttransfers')).map((r) => r.method)).toEqual(['POST']);
    expect(await c.findTransfer({ fromAccountId: AMINA.accountId, description: 'Kiunga send IDS1' })).toEqual({ transactionId: record.id });
    // A replay answers the same detail id.
    expect(await c.transfer(request('IDS1'))).toEqual({ detailId: 41, replayed: true });
    // How an operator maps the detail id to the transaction id (docs/fineract.md §6.2).
    const http = demoHttp(s);
    closers.push(http);
    const page = await http.request<{ pageItems: { id: number }[] }>('GET', '/accounttransfers', { query: { accountDetailId: 41 } });
    expect(page.pageItems.map((t) => t.id)).toEqual([record.id]);
  });

  it("needs no READ_ACCOUNTTRANSFER: the POST's answer settles the transfer", async () => {
    const s = await start();
    s.bank.data.lastTransferDetailId = 7;
    s.control.deniedPermissions.add('READ_ACCOUNTTRANSFER');
    const c = client(s, { today: () => BUSINESS_DATE });
    expect(await c.transfer(request('IDS2'))).toEqual({ detailId: 8, replayed: false });
    expect(balanceOf(s, AMINA.accountId)).toBe(12_000_00);
  });
});
