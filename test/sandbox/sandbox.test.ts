import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, DEMO_CLIENTS, DEMO_LOANS, DEMO_SAVINGS, startSandbox, type Sandbox } from '../../src/sandbox/index.js';

const BUSINESS_DATE = '2026-11-25';
const BASIC = `Basic ${Buffer.from(`${DEMO.username}:${DEMO.password}`).toString('base64')}`;

type Json = Record<string, any>;

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ businessDate: BUSINESS_DATE });
});
afterAll(async () => {
  await sandbox.close();
});

interface CallOptions {
  auth?: string | null;
  tenant?: string | null;
  method?: string;
  body?: unknown;
}

async function call(path: string, o: CallOptions = {}): Promise<{ status: number; text: string; json: any; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const auth = o.auth === undefined ? BASIC : o.auth;
  const tenant = o.tenant === undefined ? DEMO.tenant : o.tenant;
  if (auth) headers.authorization = auth;
  if (tenant) headers['fineract-platform-tenantid'] = tenant;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(sandbox.url + path, {
    method: o.method ?? 'GET',
    headers,
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

describe('authentication and tenant', () => {
  it('answers with the demo credentials and tenant', async () => {
    expect((await call('/clients/1')).status).toBe(200);
  });

  it('accepts the tenant as ?tenantIdentifier=', async () => {
    const r = await call('/clients/1?tenantIdentifier=default', { tenant: null });
    expect(r.status).toBe(200);
  });

  it('refuses a missing or unknown tenant with 400 and a non-Fineract body', async () => {
    for (const tenant of [null, 'nairobi']) {
      const r = await call('/clients/1', { tenant });
      expect(r.status).toBe(400);
      expect(r.json.status).toBe(400);
      expect(r.json).not.toHaveProperty('httpStatusCode');
      expect(r.json).not.toHaveProperty('userMessageGlobalisationCode');
    }
  });

  it('refuses missing or wrong credentials with 401 and the Basic realm', async () => {
    const wrong = `Basic ${Buffer.from('mifos:nope').toString('base64')}`;
    for (const auth of [null, wrong, 'Bearer abc', 'Basic !!!']) {
      const r = await call('/clients/1', { auth });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="Fineract Platform API"');
      expect(r.json).not.toHaveProperty('userMessageGlobalisationCode');
    }
  });

  it('refuses /self/* for the back-office service user', async () => {
    const r = await call('/self/clients');
    expect(r.status).toBe(401);
  });

  it('checks credentials on the open POST /authentication', async () => {
    const good = await call('/authentication', { auth: null, method: 'POST', body: { username: 'mifos', password: 'password' } });
    expect(good.status).toBe(200);
    expect(good.json).toMatchObject({ authenticated: true, officeId: 1, base64EncodedAuthenticationKey: BASIC.slice(6) });
    const bad = await call('/authentication', { auth: null, method: 'POST', body: { username: 'mifos', password: 'x' } });
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({ httpStatusCode: '401', userMessageGlobalisationCode: 'error.msg.not.authenticated' });
  });

  it('answers 403 error.msg.not.authorized for a denied permission', async () => {
    sandbox.control.deniedPermissions.add('READ_SAVINGSACCOUNT');
    try {
      const r = await call('/savingsaccounts/1');
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({ httpStatusCode: '403', userMessageGlobalisationCode: 'error.msg.not.authorized' });
      expect((await call('/clients/1')).status).toBe(200);
    } finally {
      sandbox.control.deniedPermissions.clear();
    }
  });

  it('answers 404 for unknown paths and non-numeric ids, 405 for wrong methods', async () => {
    expect((await call('/nothing-here')).status).toBe(404);
    expect((await call('/clients/abc')).status).toBe(404);
    expect((await call('/clients/1', { method: 'DELETE' })).status).toBe(405);
  });
});

describe('serialisation quirks', () => {
  it('omits null keys everywhere', async () => {
    for (const path of [
      '/clients/4',
      '/clients/1/accounts',
      '/savingsaccounts/1?associations=transactions',
      '/loans/101?associations=repaymentSchedule',
    ]) {
      const r = await call(path);
      expect(r.status).toBe(200);
      expect(r.text).not.toContain('null');
    }
  });

  it('omits empty collections: no loanAccounts key for Baraka, an empty object for a client without accounts', async () => {
    const baraka = await call(`/clients/${DEMO_CLIENTS.baraka.id}/accounts`);
    expect(baraka.json).not.toHaveProperty('loanAccounts');
    expect(baraka.json.savingsAccounts).toHaveLength(1);
    const gift = await call(`/clients/${DEMO_CLIENTS.gift.id}/accounts`);
    expect(gift.json).toEqual({});
  });

  it('renders LocalDate as [y, m, d] and enums as {id, code, value} with booleans', async () => {
    const r = await call('/clients/1');
    expect(r.json.activationDate).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
    expect(r.json.timeline.submittedOnDate).toHaveLength(3);
    expect(r.json.status).toEqual({ id: 300, code: 'clientStatusType.active', value: 'Active' });
    const s = await call('/savingsaccounts/1');
    expect(s.json.status).toMatchObject({ id: 300, code: 'savingsAccountStatusType.active', value: 'Active', active: true, closed: false });
  });

  it('writes BigDecimal amounts with trailing zeros', async () => {
    const r = await call('/loanproducts');
    expect(r.text).toContain('"minPrincipal":5000.000000');
    expect(Array.isArray(r.json)).toBe(true);
    expect(r.json[0]).toMatchObject({
      id: 1,
      name: 'Biashara Loan',
      minPrincipal: 5000,
      maxPrincipal: 50000,
      minNumberOfRepayments: 3,
      maxNumberOfRepayments: 12,
    });
    expect(r.json[1]).toMatchObject({ id: 2, name: 'Asset Finance' });
  });

  it('404s carry httpStatusCode as a string and the specific code in errors[0]', async () => {
    const cases: [string, string][] = [
      ['/clients/999', 'error.msg.client.id.invalid'],
      ['/clients/999/accounts', 'error.msg.client.id.invalid'],
      ['/savingsaccounts/999', 'error.msg.saving.account.id.invalid'],
      ['/loans/999', 'error.msg.loan.id.invalid'],
    ];
    for (const [path, code] of cases) {
      const r = await call(path);
      expect(r.status).toBe(404);
      expect(r.json.httpStatusCode).toBe('404');
      expect(r.json.userMessageGlobalisationCode).toBe('error.msg.resource.not.found');
      expect(r.json.errors[0]).toMatchObject({ userMessageGlobalisationCode: code, parameterName: 'id' });
    }
  });

  it('applies fields= and refuses unknown fields with 400 error.msg.parameter.unsupported', async () => {
    const ok = await call('/savingsaccounts/1?fields=id,summary');
    expect(Object.keys(ok.json).sort()).toEqual(['id', 'summary']);
    const bad = await call('/savingsaccounts/1?fields=id,secret');
    expect(bad.status).toBe(400);
    expect(bad.json.httpStatusCode).toBe('400');
    expect(bad.json.errors[0]).toMatchObject({ userMessageGlobalisationCode: 'error.msg.parameter.unsupported', parameterName: 'secret' });
  });

  it('lists savings products (plain savings only) and loan products as arrays', async () => {
    const r = await call('/savingsproducts');
    expect(r.json.map((p: Json) => [p.id, p.name])).toEqual([
      [1, 'Akiba Savings'],
      [2, 'Staff Savings'],
    ]);
  });
});

describe('search and clients', () => {
  const ids = (rows: Json[]): number[] => rows.map((r) => r.entityId as number);

  it('matches mobile numbers as a substring unless exactMatch', async () => {
    const sub = await call('/search?query=711000009&resource=clients&exactMatch=false');
    expect(ids(sub.json)).toEqual([DEMO_CLIENTS.faraji.id, DEMO_CLIENTS.gift.id]);
    expect(sub.json[0]).toMatchObject({ entityType: 'CLIENT', entityMobileNo: '07110000091', entityStatus: { id: 300 } });
    expect((await call('/search?query=711000009&resource=clients&exactMatch=true')).json).toEqual([]);
    expect(ids((await call('/search?query=711000001&resource=clients')).json)).toEqual([1]);
  });

  it('matches stored formats exactly, spaces included', async () => {
    const exact = (q: string) => call(`/search?query=${encodeURIComponent(q)}&resource=clients&exactMatch=true`);
    expect(ids((await exact('+254 711 000002')).json)).toEqual([2]);
    expect(ids((await exact('254711000003')).json)).toEqual([3]);
    expect((await exact('+254711000002')).json).toEqual([]);
  });

  it('matches display names case-insensitively, keeps LIKE wildcards, and answers [] for no match', async () => {
    expect(ids((await call('/search?query=wanjiru&resource=clients')).json)).toEqual([1]);
    expect(ids((await call('/search?query=0711_00004&resource=clients&exactMatch=true')).json)).toEqual([4]);
    expect((await call('/search?query=nobody&resource=clients')).json).toEqual([]);
  });

  it('searches loans and savings by account number when resource is omitted', async () => {
    const r = await call(`/search?query=${DEMO_LOANS.amina.accountNo}`);
    expect(r.json.map((x: Json) => x.entityType)).toEqual(['LOAN']);
    expect(r.json[0]).toMatchObject({ entityId: 101, parentId: 1, parentType: 'client' });
  });

  it('pages GET /clients and ignores unknown parameters such as sqlSearch', async () => {
    const r = await call(`/clients?sqlSearch=${encodeURIComponent("c.mobile_no='0711000001'")}&limit=3&offset=1`);
    expect(r.json.totalFilteredRecords).toBe(7);
    expect(r.json.pageItems.map((c: Json) => c.id)).toEqual([2, 3, 4]);
  });

  it('renders a client with its messy stored mobile number and an entity with fullname', async () => {
    expect((await call('/clients/2')).json).toMatchObject({
      id: 2,
      displayName: 'Baraka Otieno',
      firstname: 'Baraka',
      mobileNo: '+254 711 000002',
      officeId: 1,
      active: true,
    });
    const duma = (await call('/clients/4')).json;
    expect(duma).toMatchObject({ fullname: 'Duma Traders Ltd', displayName: 'Duma Traders Ltd', legalForm: { id: 2 } });
    expect(duma).not.toHaveProperty('firstname');
    expect((await call('/clients/5')).json).toMatchObject({ active: false, status: { id: 600 } });
  });

  it('lists a client’s accounts with depositType, status and balances', async () => {
    const r = (await call('/clients/1/accounts')).json;
    expect(r.savingsAccounts.map((a: Json) => [a.id, a.accountNo, a.productName, a.accountBalance])).toEqual([
      [1, '000000001', 'Akiba Savings', 12500],
      [11, '000000011', 'Staff Savings', 800],
    ]);
    expect(r.savingsAccounts[0]).toMatchObject({ depositType: { id: 100 }, status: { id: 300, active: true }, subStatus: { id: 0 } });
    expect(r.loanAccounts.map((l: Json) => [l.id, l.status.id, l.loanBalance])).toEqual([
      [101, 300, 30000],
      [102, 600, 0],
    ]);
    const closed = (await call('/clients/5/accounts')).json.savingsAccounts[0];
    expect(closed.status).toMatchObject({ id: 600, closed: true });
    expect(closed).not.toHaveProperty('accountBalance');
  });

  it('caps search results at 50 rows', async () => {
    const other = await startSandbox({ businessDate: BUSINESS_DATE });
    try {
      for (let i = 0; i < 60; i++) {
        other.bank.data.clients.push({
          id: 100 + i,
          accountNo: String(100 + i).padStart(9, '0'),
          legalFormId: 1,
          firstname: 'Test',
          lastname: `Client${i}`,
          mobileNo: `0722${String(i).padStart(6, '0')}`,
          officeId: 1,
          statusId: 300,
          submittedOnDate: BUSINESS_DATE,
        });
      }
      const res = await fetch(`${other.url}/search?query=0722&resource=clients`, {
        headers: { authorization: BASIC, 'fineract-platform-tenantid': 'default' },
      });
      expect(((await res.json()) as unknown[]).length).toBe(50);
      // Each sandbox has its own copy of the data.
      expect((await call('/clients?limit=1000')).json.totalFilteredRecords).toBe(7);
    } finally {
      await other.close();
    }
  });
});

describe('savings accounts', () => {
  it('returns balance, available balance, client, product and currency', async () => {
    const r = (await call('/savingsaccounts/1')).json;
    expect(r).toMatchObject({
      id: 1,
      accountNo: '000000001',
      clientId: 1,
      savingsProductId: 1,
      savingsProductName: 'Akiba Savings',
      currency: { code: 'KES', decimalPlaces: 2, displaySymbol: 'KSh' },
      summary: { accountBalance: 12500, availableBalance: 12500 },
    });
    expect(r).not.toHaveProperty('transactions');
  });

  it('subtracts holds from availableBalance', async () => {
    const r = (await call(`/savingsaccounts/${DEMO_SAVINGS.aminaStaff.id}`)).json;
    expect(r).toMatchObject({ savingsAmountOnHold: 200, summary: { accountBalance: 800, availableBalance: 600 } });
  });

  it('lists transactions newest first with consistent running balances and a reversed row', async () => {
    const txns: Json[] = (await call('/savingsaccounts/1?associations=transactions')).json.transactions;
    const dates = txns.map((t) => t.date.map((n: number) => String(n).padStart(2, '0')).join('-'));
    expect([...dates].sort().reverse()).toEqual(dates);
    expect(txns.filter((t) => t.reversed)).toHaveLength(1);
    const live = txns.filter((t) => !t.reversed);
    expect(live.length).toBeGreaterThanOrEqual(6);
    expect(live[0]?.runningBalance).toBe(12500);
    for (let i = 0; i < live.length - 1; i++) {
      const newer = live[i] as Json;
      const older = live[i + 1] as Json;
      const sign = newer.entryType === 'CREDIT' ? 1 : -1;
      expect(newer.runningBalance).toBeCloseTo(older.runningBalance + sign * newer.amount, 2);
    }
    expect(txns[0]).toMatchObject({
      transactionType: { id: 1, code: 'savingsAccountTransactionType.deposit', value: 'Deposit', deposit: true },
      entryType: 'CREDIT',
    });
  });

  it('keeps every demo balance equal to its transactions', async () => {
    for (const s of Object.values(DEMO_SAVINGS)) {
      const r = (await call(`/savingsaccounts/${s.id}?associations=transactions`)).json;
      expect(r.summary.accountBalance).toBe(s.balance);
      expect(r.summary.availableBalance).toBe(s.available);
      expect(r.clientId).toBe(s.clientId);
      const newest = (r.transactions as Json[]).find((t) => !t.reversed);
      expect(newest?.runningBalance).toBe(s.balance);
    }
  });

  it('pages transaction search with offset as a page index', async () => {
    // The answer is a Spring Data page as Gson writes it (total, content, pageable), not {totalFilteredRecords, pageItems}.
    const all = (await call('/savingsaccounts/1/transactions/search?limit=50')).json;
    const page = (await call('/savingsaccounts/1/transactions/search?limit=3&offset=1')).json;
    expect(page.total).toBe(all.total);
    expect(page.content.map((t: Json) => t.id)).toEqual(all.content.slice(3, 6).map((t: Json) => t.id));
  });
});

describe('loans', () => {
  it('returns the summary and no associations unless asked', async () => {
    const r = (await call('/loans/101')).json;
    expect(r).toMatchObject({
      id: 101,
      accountNo: '000000101',
      clientId: 1,
      loanProductId: 1,
      loanProductName: 'Biashara Loan',
      status: { id: 300, active: true },
      summary: {
        totalOutstanding: DEMO_LOANS.amina.totalOutstanding,
        principalOutstanding: DEMO_LOANS.amina.principalOutstanding,
        totalOverdue: 0,
      },
    });
    expect(r).not.toHaveProperty('repaymentSchedule');
  });

  it('adds the repayment schedule on request, the disbursement row without a period', async () => {
    const r = (await call('/loans/101?associations=repaymentSchedule')).json;
    const periods: Json[] = r.repaymentSchedule.periods;
    expect(periods[0]).not.toHaveProperty('period');
    expect(periods[0]).toMatchObject({ principalDisbursed: 30000 });
    expect(periods.slice(1).map((p) => p.period)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const next = periods.find((p) => p.period !== undefined && !p.complete) as Json;
    expect(next.period).toBe(3);
    expect(next.totalOutstandingForPeriod).toBe(3750);
    const due = next.dueDate.map((n: number) => String(n).padStart(2, '0')).join('-');
    expect(due > BUSINESS_DATE).toBe(true);
  });

  it('shows closed and hidden-product loans', async () => {
    expect((await call('/loans/102')).json).toMatchObject({ status: { id: 600, closed: true }, summary: { totalOutstanding: 0 } });
    expect((await call('/loans/103')).json).toMatchObject({
      clientId: 4,
      loanProductName: 'Asset Finance',
      summary: { totalOutstanding: 159300 },
    });
  });
});

describe('control API', () => {
  it('logs Fineract requests (not control requests) and serves the log as JSON', async () => {
    sandbox.control.clearRequests();
    const before = Date.now();
    await call('/clients/1');
    await call('/offices/1');
    const res = await fetch(sandbox.url.replace('/fineract-provider/api/v1', '/sandbox/requests'));
    const log = (await res.json()) as Json[];
    expect(log.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/fineract-provider/api/v1/clients/1', 200],
      ['GET', '/fineract-provider/api/v1/offices/1', 200],
    ]);
    expect(log[0]?.at).toBeGreaterThanOrEqual(before);
    expect(sandbox.control.requests).toHaveLength(2);
  });

  it('forces 500 {"Exception"} and socket resets through POST /sandbox/control', async () => {
    const control = (body: unknown) =>
      fetch(sandbox.url.replace('/fineract-provider/api/v1', '/sandbox/control'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      expect((await control({ failMode: '500' })).status).toBe(200);
      const r = await call('/clients/1');
      expect(r.status).toBe(500);
      expect(Object.keys(r.json)).toEqual(['Exception']);
      await control({ failMode: 'reset' });
      await expect(call('/clients/1')).rejects.toThrow();
      expect((await control({ failMode: 'down' })).status).toBe(400);
      expect((await control({ latencyMs: -1 })).status).toBe(400);
    } finally {
      await control({ reset: true });
    }
    expect((await call('/clients/1')).status).toBe(200);
  });

  it('adds latency to every answer', async () => {
    sandbox.control.latencyMs = 120;
    try {
      const t0 = performance.now();
      await call('/clients/1');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    } finally {
      sandbox.control.latencyMs = 0;
    }
  });
});
