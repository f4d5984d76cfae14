import { describe, expect, it } from 'vitest';
import { HOLD_INSUFFICIENT_BALANCE, MAKER_CHECKER_PENDING, NOT_A_HOLD, isInsufficientFunds } from '../../src/fineract/rejection-codes.js';
import { FineractNotFound, FineractRejected, FineractUnavailable } from '../../src/fineract/errors.js';
import { FineractHttp, type FineractRequester, type HttpMethod, type RequestOptions } from '../../src/fineract/http.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { DEMO, DEMO_SAVINGS, type Sandbox } from '../../src/sandbox/index.js';
import { AMINA, BUSINESS_DATE, demoClient, transferRequest, clientForEachTest } from './fixtures.js';

/** The client's holdAmount and releaseAmount against the sandbox over HTTP (docs/fineract.md §4.4). */

let sandbox: Sandbox;
let fineract: FineractClient;

clientForEachTest((s, f) => {
  sandbox = s;
  fineract = f;
});

const DUMA = DEMO_SAVINGS.duma.id;
const posts = (): { path: string; query: string; idempotencyKey?: string }[] => sandbox.control.requests.filter((r) => r.method === 'POST');
const onHold = (accountId: number): number => sandbox.bank.savingsAccount(accountId)!.savingsAmountOnHold;

describe('holdAmount', () => {
  it('holds minor units on the business date, with the reason and the key, and answers the hold id', async () => {
    const { holdId } = await fineract.holdAmount(DUMA, 5_000_00, 'Kiunga approval AB12CD34', { idempotencyKey: 'appr-1-hold' });
    const txn = sandbox.bank.savingsAccount(DUMA)!.transactions.find((t) => t.id === holdId);
    expect(txn).toMatchObject({ typeId: 20, amount: 5_000_00, date: BUSINESS_DATE, reasonForBlock: 'Kiunga approval AB12CD34' });
    expect(posts()).toEqual([
      expect.objectContaining({
        path: `/fineract-provider/api/v1/savingsaccounts/${DUMA}/transactions`,
        query: 'command=holdAmount',
        idempotencyKey: 'appr-1-hold',
      }),
    ]);
    const account = await fineract.getOwnedSavingsAccount(4, DUMA);
    expect(account).toMatchObject({ accountBalance: 250_000, availableBalance: 245_000, amountOnHold: 5_000 });
  });

  it('sends an exact decimal amount (cents stay cents)', async () => {
    const { holdId } = await fineract.holdAmount(DUMA, 1234_56, 'Kiunga approval X');
    expect(sandbox.bank.savingsAccount(DUMA)!.transactions.find((t) => t.id === holdId)!.amount).toBe(1234_56);
  });

  it('replays the same hold for the same key: one hold, the same id', async () => {
    const first = await fineract.holdAmount(DUMA, 100_00, 'Kiunga approval R', { idempotencyKey: 'appr-2-hold' });
    const again = await fineract.holdAmount(DUMA, 100_00, 'Kiunga approval R', { idempotencyKey: 'appr-2-hold' });
    expect(again).toEqual(first);
    expect(onHold(DUMA)).toBe(100_00);
  });

  it('is refused beyond the withdrawable balance, as insufficient funds', async () => {
    const err = await fineract.holdAmount(AMINA.accountId, 12_500_01, 'Kiunga approval big').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FineractRejected);
    expect((err as FineractRejected).code).toBe(HOLD_INSUFFICIENT_BALANCE);
    expect(isInsufficientFunds(err)).toBe(true);
    expect(onHold(AMINA.accountId)).toBe(0);
  });

  it('makes a transfer that would use the held money fail as insufficient funds', async () => {
    await fineract.holdAmount(AMINA.accountId, 12_000_00, 'Kiunga approval all');
    const err = await fineract.transfer(transferRequest('H1', { amount: '600.00' })).catch((e: unknown) => e);
    expect(isInsufficientFunds(err)).toBe(true);
    await expect(fineract.transfer(transferRequest('H2', { amount: '500.00' }))).resolves.toMatchObject({ replayed: false });
  });

  it('cuts the reason to printable ASCII and 100 characters, and refuses an empty one before sending', async () => {
    const { holdId } = await fineract.holdAmount(DUMA, 1_00, `Idhini ya Kiunga — ${'x'.repeat(200)}`);
    const reason = sandbox.bank.savingsAccount(DUMA)!.transactions.find((t) => t.id === holdId)!.reasonForBlock!;
    expect(reason).toHaveLength(100);
    expect(reason.startsWith('Idhini ya Kiunga ')).toBe(true);
    const before = posts().length;
    await expect(fineract.holdAmount(DUMA, 1_00, ' \u2014 ')).rejects.toMatchObject({
      code: 'validation.msg.savingsaccount.reasonForBlock.cannot.be.blank',
    });
    expect(posts()).toHaveLength(before);
  });

  it('refuses amounts that are not positive whole minor units, and an inactive account, before sending', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(fineract.holdAmount(DUMA, bad, 'Kiunga approval')).rejects.toBeInstanceOf(FineractRejected);
    }
    await expect(fineract.holdAmount(DEMO_SAVINGS.estherClosed.id, 1_00, 'Kiunga approval')).rejects.toMatchObject({
      code: 'validation.msg.savingsaccount.not.in.active.state',
    });
    expect(posts()).toHaveLength(0);
  });

  it('answers an unknown account as not found', async () => {
    await expect(fineract.holdAmount(999, 1_00, 'Kiunga approval')).rejects.toBeInstanceOf(FineractNotFound);
  });

  it('reports a hold kept for maker-checker approval as pending, not as held', async () => {
    sandbox.control.makerChecker = true;
    const err = await fineract.holdAmount(DUMA, 1_00, 'Kiunga approval').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: MAKER_CHECKER_PENDING });
    expect(onHold(DUMA)).toBe(0);
  });

  it('leaves the outcome uncertain (retryable) when Fineract fails inside the command', async () => {
    sandbox.control.failMode = 'command-500';
    const err = await fineract.holdAmount(DUMA, 1_00, 'Kiunga approval', { idempotencyKey: 'appr-3-hold' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FineractUnavailable);
  });
});

describe('releaseAmount', () => {
  it('releases the hold: the available balance comes back', async () => {
    const { holdId } = await fineract.holdAmount(DUMA, 5_000_00, 'Kiunga approval A');
    await fineract.releaseAmount(DUMA, holdId, { idempotencyKey: 'appr-1-release' });
    expect(onHold(DUMA)).toBe(0);
    expect(posts().at(-1)).toMatchObject({
      path: `/fineract-provider/api/v1/savingsaccounts/${DUMA}/transactions/${holdId}`,
      query: 'command=releaseAmount',
      idempotencyKey: 'appr-1-release',
    });
    expect(await fineract.getOwnedSavingsAccount(4, DUMA)).toMatchObject({ availableBalance: 250_000, amountOnHold: 0 });
  });

  it('resolves for a hold released before, without sending a second release', async () => {
    const { holdId } = await fineract.holdAmount(DUMA, 5_000_00, 'Kiunga approval B');
    await fineract.releaseAmount(DUMA, holdId);
    const before = posts().length;
    await fineract.releaseAmount(DUMA, holdId);
    expect(posts()).toHaveLength(before);
    expect(sandbox.bank.savingsAccount(DUMA)!.transactions.filter((t) => t.typeId === 21)).toHaveLength(1);
  });

  it('treats Fineract\'s "not on hold" as released when someone released it between the read and the post', async () => {
    const { holdId } = await fineract.holdAmount(DUMA, 5_000_00, 'Kiunga approval C');
    // A transport that lets an operator release the hold right after the client has read it as live.
    const inner = new FineractHttp({
      baseUrl: sandbox.url,
      tenant: DEMO.tenant,
      username: DEMO.username,
      password: DEMO.password,
      timeoutMs: 2_000,
    });
    const racing: FineractRequester = {
      async request<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T> {
        const answer = await inner.request<T>(method, path, options);
        if (method === 'GET' && path.endsWith(`/transactions/${holdId}`)) {
          await inner.request('POST', path, { query: { command: 'releaseAmount' }, body: {} });
        }
        return answer;
      },
      close: () => inner.close(),
    };
    const raced = demoClient(sandbox.url, { today: () => BUSINESS_DATE, http: racing });
    try {
      await raced.releaseAmount(DUMA, holdId);
    } finally {
      await raced.close();
    }
    const refused = sandbox.control.requests.filter((r) => r.method === 'POST' && r.query === 'command=releaseAmount');
    expect(refused.map((r) => r.status)).toEqual([200, 400]);
    expect(onHold(DUMA)).toBe(0);
  });

  it('refuses to "release" a transaction that is not a hold, which Fineract would do', async () => {
    await fineract.holdAmount(AMINA.accountId, 12_000_00, 'Kiunga approval D');
    const deposit = sandbox.bank.savingsAccount(AMINA.accountId)!.transactions.find((t) => t.typeId === 1 && !t.reversed)!;
    const before = posts().length;
    await expect(fineract.releaseAmount(AMINA.accountId, deposit.id)).rejects.toMatchObject({ code: NOT_A_HOLD });
    expect(posts()).toHaveLength(before);
    expect(onHold(AMINA.accountId)).toBe(12_000_00);
  });

  it('answers an unknown hold, or a hold of another account, as not found without sending', async () => {
    const { holdId } = await fineract.holdAmount(DUMA, 1_00, 'Kiunga approval E');
    const before = posts().length;
    await expect(fineract.releaseAmount(DUMA, 9999)).rejects.toBeInstanceOf(FineractNotFound);
    await expect(fineract.releaseAmount(AMINA.accountId, holdId)).rejects.toBeInstanceOf(FineractNotFound);
    expect(posts()).toHaveLength(before);
  });
});

describe('findHold', () => {
  it('finds a live hold by its exact reason after an uncertain hold, and not once it is released', async () => {
    // The answer is lost after the hold was made (the connection drops after the commit).
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'destroy', ms: 0 };
    const err = await fineract.holdAmount(DUMA, 2_000_00, 'Kiunga approval LOST1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FineractUnavailable);
    const found = await fineract.findHold(DUMA, 'Kiunga approval LOST1');
    const held = sandbox.bank.savingsAccount(DUMA)!.transactions.find((t) => t.typeId === 20)!;
    expect(found).toEqual({ holdId: held.id });
    expect(await fineract.findHold(DUMA, 'Kiunga approval LOST')).toBeNull();
    expect(await fineract.findHold(AMINA.accountId, 'Kiunga approval LOST1')).toBeNull();
    await fineract.releaseAmount(DUMA, held.id);
    expect(await fineract.findHold(DUMA, 'Kiunga approval LOST1')).toBeNull();
  });
});
