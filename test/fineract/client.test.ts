import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf } from '../helpers/rejection.js';
import { createFineractClient, type FineractClientOptions } from '../../src/fineract/client.js';
import { FineractError, FineractNotFound, FineractUnauthorized, FineractUnavailable, OwnershipError } from '../../src/fineract/errors.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { createLogger } from '../../src/logger.js';
import {
  DEMO,
  DEMO_CLIENTS,
  DEMO_LOANS,
  DEMO_PRODUCTS,
  DEMO_SAVINGS,
  DEMO_UNKNOWN_MSISDN,
  startSandbox,
  type Sandbox,
} from '../../src/sandbox/index.js';

let sandbox: Sandbox;
const clients: FineractClient[] = [];

function client(overrides: Partial<FineractClientOptions> = {}): FineractClient {
  const c = createFineractClient({
    baseUrl: sandbox.url,
    tenant: DEMO.tenant,
    username: DEMO.username,
    password: DEMO.password,
    timeoutMs: 2_000,
    defaultCountry: 'KE',
    ...overrides,
  });
  clients.push(c);
  return c;
}

/** Resolves to the rejection of `p` (fails the test if it resolves). */

beforeAll(async () => {
  sandbox = await startSandbox({ businessDate: '2026-11-25' });
});
afterEach(() => {
  sandbox.control.reset();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sandbox.close();
});

describe('findClientByPhone', () => {
  it.each(['amina', 'baraka', 'chanya', 'duma'] as const)('finds %s from the E.164 number whatever the stored format', async (name) => {
    const demo = DEMO_CLIENTS[name];
    const customer = await client().findClientByPhone(demo.msisdn);
    expect(customer).toMatchObject({ clientId: demo.id, displayName: demo.displayName, msisdn: demo.msisdn, officeId: 1, active: true });
  });

  it('returns the first names of a person and none for an entity', async () => {
    expect(await client().findClientByPhone(DEMO_CLIENTS.amina.msisdn)).toMatchObject({ firstName: 'Amina', lastName: 'Wanjiru' });
    expect(await client().findClientByPhone(DEMO_CLIENTS.duma.msisdn)).not.toHaveProperty('firstName');
  });

  it('returns null for a number that belongs to nobody, although substring hits exist', async () => {
    sandbox.control.clearRequests();
    expect(await client().findClientByPhone(DEMO_UNKNOWN_MSISDN)).toBeNull();
    const searches = sandbox.control.requests.filter((r) => r.path.endsWith('/search'));
    expect(searches.length).toBe(4);
    // `07110000091` and `+255711000009` contain 711000009 but are different numbers: never confirmed.
    expect(sandbox.control.requests.some((r) => r.path.includes('/clients/'))).toBe(false);
  });

  it('finds a foreign number only as itself', async () => {
    expect(await client().findClientByPhone(DEMO_CLIENTS.gift.msisdn)).toMatchObject({ clientId: DEMO_CLIENTS.gift.id });
  });

  it('does not return a closed client', async () => {
    expect(await client().findClientByPhone(DEMO_CLIENTS.esther.msisdn)).toBeNull();
  });

  it('stops at the first confirmed hit', async () => {
    sandbox.control.clearRequests();
    await client().findClientByPhone(DEMO_CLIENTS.amina.msisdn);
    expect(sandbox.control.requests.map((r) => r.path.replace(/^.*\/v1/, ''))).toEqual(['/search', '/clients/1']);
    expect(sandbox.control.requests[0]?.query).toContain('exactMatch=false');
  });

  it('refuses input that is not E.164 without calling Fineract', async () => {
    sandbox.control.clearRequests();
    for (const raw of ['0711000001', '+254 711 000001', 'abc', '%']) expect(await client().findClientByPhone(raw)).toBeNull();
    expect(sandbox.control.requests).toHaveLength(0);
  });

  it('does not log the phone number in clear', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        lines.push(chunk.toString());
        done();
      },
    });
    const c = client({ logger: createLogger('debug', sink) });
    await c.findClientByPhone(DEMO_CLIENTS.baraka.msisdn);
    await c.findClientByPhone(DEMO_UNKNOWN_MSISDN);
    const text = lines.join('');
    expect(text).toContain('fineract call');
    expect(text).not.toMatch(/711000002|711000009|711 000/);
    expect(text).not.toContain(DEMO.password);
  });
});

describe('accounts', () => {
  const shown = { savingsProductIds: [DEMO_PRODUCTS.savings.akiba], loanProductIds: [DEMO_PRODUCTS.loans.biashara] };

  it('lists active savings and loans of the shown products only', async () => {
    const a = await client(shown).listAccounts(DEMO_CLIENTS.amina.id);
    expect(a.savings).toEqual([{ id: 1, accountNo: '000000001', productId: 1, productName: 'Akiba Savings', currency: 'KES' }]);
    expect(a.loans).toEqual([
      { id: 101, accountNo: '000000101', productId: 1, productName: 'Biashara Loan', currency: 'KES', statusId: 300, loanBalance: 30000 },
    ]);
  });

  it('lists every product when no filter is set, but never closed accounts or fixed deposits', async () => {
    const c = client({ savingsProductIds: [], loanProductIds: undefined });
    expect((await c.listAccounts(DEMO_CLIENTS.amina.id)).savings.map((s) => s.id)).toEqual([1, 11]);
    expect((await c.listAccounts(DEMO_CLIENTS.chanya.id)).savings.map((s) => s.id)).toEqual([3]);
    expect((await c.listAccounts(DEMO_CLIENTS.duma.id)).loans.map((l) => l.id)).toEqual([103]);
    expect(await c.listAccounts(DEMO_CLIENTS.esther.id)).toEqual({ savings: [], loans: [] });
  });

  it('hides a hidden-product loan and copes with a missing loanAccounts key', async () => {
    expect((await client(shown).listAccounts(DEMO_CLIENTS.duma.id)).loans).toEqual([]);
    expect(await client(shown).listAccounts(DEMO_CLIENTS.baraka.id)).toEqual({
      savings: [{ id: 2, accountNo: '000000002', productId: 1, productName: 'Akiba Savings', currency: 'KES' }],
      loans: [],
    });
  });

  it('reads an owned savings account with balances', async () => {
    const s = await client().getOwnedSavingsAccount(1, DEMO_SAVINGS.aminaStaff.id);
    expect(s).toEqual({
      id: 11,
      accountNo: '000000011',
      productId: 2,
      productName: 'Staff Savings',
      currency: 'KES',
      clientId: 1,
      active: true,
      decimalPlaces: 2,
      accountBalance: 800,
      availableBalance: 600,
      amountOnHold: 200,
    });
  });

  it('returns transactions newest first without the reversed one', async () => {
    const s = await client().getOwnedSavingsAccount(1, 1, { transactions: true });
    const txns = s.transactions ?? [];
    expect(txns).toHaveLength(7);
    expect(txns.some((t) => t.amount === 3000)).toBe(false); // the reversed deposit
    expect([...txns].sort((a, b) => (a.date < b.date ? 1 : -1)).map((t) => t.date)).toEqual(txns.map((t) => t.date));
    expect(txns[0]).toMatchObject({ type: 'deposit', credit: true, amount: 1000, runningBalance: 12500 });
    expect(txns.map((t) => t.type)).toEqual([
      'deposit',
      'withdrawal fee',
      'withdrawal',
      'interest posting',
      'withdrawal',
      'deposit',
      'deposit',
    ]);
    expect(txns.map((t) => t.credit)).toEqual([true, false, false, true, false, true, true]);
    expect(txns[0]?.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('throws OwnershipError when Amina asks for Baraka’s account or loan', async () => {
    await expect(client().getOwnedSavingsAccount(DEMO_CLIENTS.amina.id, DEMO_SAVINGS.baraka.id)).rejects.toBeInstanceOf(OwnershipError);
    await expect(client().getOwnedLoan(DEMO_CLIENTS.baraka.id, DEMO_LOANS.amina.id)).rejects.toBeInstanceOf(OwnershipError);
  });

  it('reads an owned loan', async () => {
    expect(await client().getOwnedLoan(1, 101)).toEqual({
      id: 101,
      accountNo: '000000101',
      productId: 1,
      productName: 'Biashara Loan',
      currency: 'KES',
      statusId: 300,
      loanBalance: 30000,
      clientId: 1,
      totalOutstanding: 30000,
      principalOutstanding: 24000,
    });
  });

  it('reads a client by id', async () => {
    expect(await client().getClient(3)).toMatchObject({ clientId: 3, msisdn: '+254711000003', active: true });
  });
});

describe('errors', () => {
  const errors: Error[] = [];
  afterAll(() => {
    // No error message may carry the credentials, in clear or encoded.
    const encoded = Buffer.from(`${DEMO.username}:${DEMO.password}`).toString('base64');
    for (const e of errors) {
      expect(e.message).not.toContain(DEMO.password);
      expect(e.message).not.toContain('S3cret-Wrong');
      expect(e.message).not.toContain(encoded);
      expect(e.message).not.toMatch(/Wanjiru|Otieno|07110/);
    }
    expect(errors.length).toBeGreaterThanOrEqual(9);
  });
  const caught = async (p: Promise<unknown>): Promise<Error> => {
    const e = await rejectionOf(p);
    errors.push(e);
    return e;
  };

  it('maps 404s to FineractNotFound with the specific code', async () => {
    const cases: [Promise<unknown>, string][] = [
      [client().getOwnedSavingsAccount(1, 999), 'error.msg.saving.account.id.invalid'],
      [client().getOwnedLoan(1, 999), 'error.msg.loan.id.invalid'],
      [client().getClient(999), 'error.msg.client.id.invalid'],
      [client().listAccounts(999), 'error.msg.client.id.invalid'],
    ];
    for (const [p, code] of cases) {
      const e = await caught(p);
      expect(e).toBeInstanceOf(FineractNotFound);
      expect((e as FineractNotFound).code).toBe(code);
      expect((e as FineractNotFound).retryable).toBe(false);
    }
  });

  it('maps a wrong password to FineractUnauthorized (401)', async () => {
    const e = await caught(client({ password: 'S3cret-Wrong' }).findClientByPhone(DEMO_CLIENTS.amina.msisdn));
    expect(e).toBeInstanceOf(FineractUnauthorized);
    expect((e as FineractUnauthorized).httpStatus).toBe(401);
  });

  it('maps 403 error.msg.not.authorized to FineractUnauthorized', async () => {
    sandbox.control.deniedPermissions.add('READ_LOAN');
    const e = await caught(client().getOwnedLoan(1, 101));
    expect(e).toBeInstanceOf(FineractUnauthorized);
    expect((e as FineractUnauthorized).httpStatus).toBe(403);
  });

  it('maps a 500 to retryable FineractUnavailable', async () => {
    sandbox.control.failMode = '500';
    const e = await caught(client().listAccounts(1));
    expect(e).toBeInstanceOf(FineractUnavailable);
    expect(e).toMatchObject({ kind: 'unavailable', retryable: true, httpStatus: 500, timedOut: false });
    await expect(client().ping()).rejects.toBeInstanceOf(FineractUnavailable);
  });

  it('maps a reset connection to FineractUnavailable', async () => {
    sandbox.control.failMode = 'reset';
    const e = await caught(client().getClient(1));
    expect(e).toBeInstanceOf(FineractUnavailable);
    expect((e as FineractUnavailable).timedOut).toBe(false);
  });

  it('maps a slow answer to FineractUnavailable(timedOut) within the deadline', async () => {
    sandbox.control.latencyMs = 1_000;
    const t0 = performance.now();
    const e = await caught(client({ timeoutMs: 150 }).getOwnedSavingsAccount(1, 1));
    const elapsed = performance.now() - t0;
    expect(e).toBeInstanceOf(FineractUnavailable);
    expect((e as FineractUnavailable).timedOut).toBe(true);
    expect(elapsed).toBeLessThan(800);
  });

  it('maps a refused connection to FineractUnavailable', async () => {
    const gone = await startSandbox();
    const url = gone.url;
    await gone.close();
    const e = await caught(client({ baseUrl: url }).ping());
    expect(e).toBeInstanceOf(FineractUnavailable);
    expect(e).toBeInstanceOf(FineractError);
    expect((e as FineractUnavailable).timedOut).toBe(false);
  });

  it('maps an ownership check failure to a non-Fineract error', async () => {
    const e = await caught(client().getOwnedSavingsAccount(2, 1));
    expect(e).toBeInstanceOf(OwnershipError);
    expect(e).not.toBeInstanceOf(FineractError);
  });

  it('refuses ids that are not positive integers without calling Fineract', async () => {
    sandbox.control.clearRequests();
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(await caught(client().getOwnedSavingsAccount(1, bad))).toBeInstanceOf(FineractNotFound);
    }
    expect(sandbox.control.requests).toHaveLength(0);
  });
});

describe('ping', () => {
  it('resolves against a healthy sandbox', async () => {
    await expect(client().ping()).resolves.toBeUndefined();
  });
});
