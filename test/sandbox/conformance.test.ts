import { describe, expect, it } from 'vitest';
import { addDays, todayAt } from '../../src/sandbox/dates.js';
import { DEMO_SAVINGS, type Sandbox } from '../../src/sandbox/index.js';
import { BUSINESS_DATE, balance, call, codes, transferBody, type Json, sandboxForEachTest } from './api.js';

/** The sandbox answers as the Apache Fineract source does (docs/fineract.md); raw HTTP, no client in between. */

let sandbox: Sandbox;

sandboxForEachTest((s) => (sandbox = s));

const AMINA = DEMO_SAVINGS.amina.id;

async function control(body: Record<string, unknown>): Promise<{ status: number; json: Json }> {
  const res = await fetch(`http://127.0.0.1:${sandbox.port}/sandbox/control`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('GET /savingsaccounts/{id}/transactions/search: a Spring Data page serialised by Gson', () => {
  it('answers {total, content, pageable} newest first, limit 50 by default', async () => {
    const r = await call(sandbox, `/savingsaccounts/${AMINA}/transactions/search`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['total', 'content', 'pageable']);
    expect(r.json).not.toHaveProperty('pageItems');
    expect(r.json.pageable).toEqual({
      sort: {
        orders: ['transaction_date', 'created_date', 'id'].map((property) => ({
          direction: 'DESC',
          property,
          ignoreCase: false,
          nullHandling: 'NATIVE',
        })),
      },
      page: 0,
      size: 50,
    });
    const dates = r.json.content.map((t: Json) => t.date.map((n: number) => String(n).padStart(2, '0')).join('-'));
    expect([...dates].sort().reverse()).toEqual(dates);
    expect(r.json.total).toBe(r.json.content.length);
  });

  it('filters by fromDate/toDate (transaction_date), credit/debit and pages with offset as a page index', async () => {
    const since = addDays(BUSINESS_DATE, -20);
    const r = await call(sandbox, `/savingsaccounts/${AMINA}/transactions/search?fromDate=${since}&debit=true&limit=1&offset=1`);
    expect(r.json.pageable).toMatchObject({ page: 1, size: 1 });
    expect(r.json.total).toBe(2); // the withdrawal and the fee on day -20
    expect(r.json.content).toHaveLength(1);
    expect(r.json.content[0].entryType).toBe('DEBIT');
    const bad = await call(sandbox, `/savingsaccounts/${AMINA}/transactions/search?fromDate=25-11-2026`);
    expect(bad.status).toBe(400);
    expect(codes(bad)).toEqual(['validation.msg.invalid.date.pattern']);
  });

  it('answers an empty page for an unknown account (no 404: the search only filters on savings_account_id)', async () => {
    const r = await call(sandbox, '/savingsaccounts/999/transactions/search');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ total: 0, content: [] });
  });
});

describe('business date', () => {
  it('serves GET /businessdate and /businessdate/{type} as BusinessDateData', async () => {
    const all = await call(sandbox, '/businessdate');
    expect(all.json).toEqual([
      { description: 'Business Date', type: 'BUSINESS_DATE', date: [2026, 11, 25] },
      { description: 'Close of Business Date', type: 'COB_DATE', date: [2026, 11, 24] },
    ]);
    expect((await call(sandbox, '/businessdate/BUSINESS_DATE')).json).toEqual(all.json[0]);
    expect((await call(sandbox, '/configurations/name/enable_business_date')).json).toMatchObject({
      name: 'enable_business_date',
      enabled: true,
    });
    const later = await call(sandbox, '/configurations/name/enable-business-date');
    expect(later.status).toBe(404);
    expect(codes(later)).toEqual(['error.msg.configuration.property.invalid']);
    sandbox.control.deniedPermissions.add('READ_BUSINESS_DATE');
    expect((await call(sandbox, '/businessdate/BUSINESS_DATE')).status).toBe(403);
  });

  it('refuses a transfer dated after the business date: 400 error.msg.savingsaccount.transaction.in.the.future', async () => {
    const r = await call(sandbox, '/accounttransfers', { body: transferBody({ transferDate: addDays(BUSINESS_DATE, 1) }) });
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(['error.msg.savingsaccount.transaction.in.the.future']);
    expect(r.json.errors[0].parameterName).toBe('transactionDate');
  });

  it('moves through POST /sandbox/control; switched off, writes follow today in Nairobi while GET still answers the stored row', async () => {
    const stored = addDays(todayAt(180), -3);
    expect((await control({ businessDate: stored })).json).toMatchObject({ businessDate: stored, businessDateEnabled: true });
    expect((await call(sandbox, '/accounttransfers', { body: transferBody({ transferDate: todayAt(180) }) })).status).toBe(400);
    expect((await call(sandbox, '/accounttransfers', { body: transferBody({ transferDate: stored }) })).status).toBe(200);
    await control({ businessDateEnabled: false });
    expect((await call(sandbox, '/businessdate/BUSINESS_DATE')).json.date.join('-')).toBe(stored.split('-').map(Number).join('-'));
    expect((await call(sandbox, '/configurations/name/enable_business_date')).json.enabled).toBe(false);
    expect(
      (await call(sandbox, '/accounttransfers', { body: transferBody({ transferDate: todayAt(180), transferDescription: 'today' }) }))
        .status,
    ).toBe(200);
    expect((await control({ businessDate: '2026-02-30' })).status).toBe(400);
  });
});

describe("failMode 'command-500': a failure inside the command is stored under the idempotency key", () => {
  it('answers 500, moves nothing, and replays the 500 with x-served-from-cache forever', async () => {
    expect((await control({ failMode: 'command-500' })).status).toBe(200);
    const first = await call(sandbox, '/accounttransfers', { body: transferBody(), idempotencyKey: 'poison' });
    expect(first.status).toBe(500);
    expect(first.json).toHaveProperty('Exception');
    expect(first.headers.get('x-served-from-cache')).toBeNull();
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
    expect((await call(sandbox, `/savingsaccounts/${AMINA}`)).status).toBe(200); // reads still served
    await control({ failMode: 'none' });
    for (let i = 0; i < 2; i++) {
      const replay = await call(sandbox, '/accounttransfers', { body: transferBody(), idempotencyKey: 'poison' });
      expect([replay.status, replay.headers.get('x-served-from-cache')]).toEqual([500, 'true']);
      expect(replay.json).toEqual(first.json);
    }
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
    expect((await call(sandbox, '/accounttransfers', { body: transferBody(), idempotencyKey: 'fresh' })).status).toBe(200);
  });
});

describe('transfer ids: two sequences, as in Fineract', () => {
  it('POST answers the detail id; legs, GET /accounttransfers/{id} and the list use the transaction id', async () => {
    sandbox.bank.data.lastTransferDetailId = 40;
    const post = await call(sandbox, '/accounttransfers', { body: transferBody({ transferDescription: 'ids' }) });
    expect(post.json).toEqual({ savingsId: AMINA, resourceId: 41 });
    const leg = (await call(sandbox, `/savingsaccounts/${AMINA}?associations=transactions`)).json.transactions.find(
      (t: Json) => t.transfer,
    );
    expect(leg.transfer).toMatchObject({ id: 1, transferDescription: 'ids' });
    expect((await call(sandbox, '/accounttransfers/1')).json).toMatchObject({ id: 1, transferDescription: 'ids' });
    expect((await call(sandbox, '/accounttransfers/41')).status).toBe(404);
    const list = await call(sandbox, '/accounttransfers?accountDetailId=41');
    expect(list.json).toMatchObject({ totalFilteredRecords: 1, pageItems: [expect.objectContaining({ id: 1 })] });
    expect((await call(sandbox, '/accounttransfers?accountDetailId=1')).json).toMatchObject({ totalFilteredRecords: 0, pageItems: [] });
  });
});
