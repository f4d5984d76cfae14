import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { call, savingsTxnBody } from '../sandbox/api.js';
import { hookEventKey, loanHookEventKey } from '../../src/hooks/fineract-hooks.js';
import type { Application } from '../../src/origination/application.js';

/**
 * Fineract hooks → SMS alerts (threat T20): the secret in the URL path is the only authenticity (Fineract
 * posts with Retrofit `@POST(".")`: the Payload URL must end in `/` and its query string is dropped), the
 * payload is only a hint (everything in the alert is re-read from Fineract), one alert per event however
 * often the hook arrives, 4xx for malformed bodies and never 5xx, failed-command hooks ignored quietly.
 * Most tests post the hook Fineract would send by hand; the last block lets the sandbox's hook emitter post
 * it after a real deposit, the way Fineract does.
 */

const SECRET = 'hook-secret-0123456789abcdef';
const BARAKA = '+254711000002';
const AMINA = '+254711000001';
let server: TestServer;

const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: 'Africa/Nairobi' }).format(new Date());

/** Posts a deposit or withdrawal to the sandbox; returns Fineract's CommandProcessingResult. */
async function postTxn(accountId: number, command: 'deposit' | 'withdrawal', amount: number) {
  const res = await call(server.services.sandbox!, `/savingsaccounts/${accountId}/transactions?command=${command}`, {
    body: savingsTxnBody({ transactionDate: today(), transactionAmount: amount }),
  });
  expect(res.status).toBe(200);
  return res.json as { officeId: number; clientId: number; savingsId: number; resourceId: number; changes: Record<string, unknown> };
}

/** The payload Fineract's "Web" hook template sends for a command (docs/fineract.md §11.1). */
function payloadOf(result: { clientId: number; savingsId: number; resourceId: number; officeId: number }, action: string, amount: number) {
  return {
    entityName: 'SAVINGSACCOUNT',
    actionName: action,
    createdBy: 1,
    createdByName: 'mifos',
    createdByFullName: 'App Administrator',
    request: { transactionDate: today(), dateFormat: 'yyyy-MM-dd', locale: 'en', transactionAmount: amount, paymentTypeId: 2.0 },
    officeId: result.officeId,
    clientId: result.clientId,
    response: { clientId: result.clientId, savingsId: result.savingsId, resourceId: result.resourceId, changes: { paymentTypeId: 2 } },
    timestamp: new Date().toISOString(),
  };
}

interface HookPost {
  body: unknown;
  action?: string;
  entity?: string;
  path?: string;
  contentType?: string;
  raw?: string;
}

async function hook({
  body,
  action = 'DEPOSIT',
  entity = 'SAVINGSACCOUNT',
  path = `/hooks/fineract/${SECRET}/`,
  contentType = 'application/json; charset=UTF-8',
  raw,
}: HookPost) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'x-fineract-entity': entity,
      'x-fineract-action': action,
      'fineract-platform-tenantid': 'default',
      'x-fineract-endpoint': `${server.services.sandbox!.url}/`,
    },
    body: raw ?? JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: (() => {
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    })(),
  };
}

const outbox = (to: string) => server.services.outbox!.list(to);
/** Balance of a sandbox savings account (major units), straight from the sandbox's books. */
const balance = (accountId: number) => {
  const bank = server.services.sandbox!.bank;
  return bank.balance(bank.savingsAccount(accountId)!) / 100;
};
const kes = (amount: number, lang = 'en') => server.services.translator.formatAmount(lang, amount, 'KES');

beforeAll(async () => {
  server = await startTestServer({ FINERACT_HOOK_SECRET: SECRET });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.services.sandbox!.control.reset();
  server.services.outbox!.clear();
});

describe('Fineract hooks', () => {
  it("should alert the owner of a deposit with Fineract's own figures", async () => {
    expect(balance(2)).toBe(3000); // the demo data, untouched yet
    const result = await postTxn(2, 'deposit', 1000);
    const res = await hook({ body: payloadOf(result, 'DEPOSIT', 1000) });
    expect(res).toMatchObject({ status: 200, json: { status: 'accepted' } });
    await server.services.queue.idle();
    expect(outbox(BARAKA).map((m) => m.text)).toEqual(['Deposit of KES 1,000.00 to 000000002. Balance KES 4,000.00.']);
  });

  it('should alert a withdrawal, in the language the customer chose, in GSM-7', async () => {
    await server.services.store.set(server.services.keys.language(BARAKA), 'fr');
    try {
      const result = await postTxn(2, 'withdrawal', 500);
      expect((await hook({ body: payloadOf(result, 'WITHDRAWAL', 500), action: 'WITHDRAWAL' })).status).toBe(200);
      await server.services.queue.idle();
      const text = outbox(BARAKA).map((m) => m.text);
      expect(text).toEqual([`Retrait de 500,00 KES du compte 000000002. Solde ${kes(balance(2), 'fr')}.`]);
      expect(text[0]).toMatch(/^[\x20-\x7e]+$/); // plain GSM-7: French number spaces became plain spaces
    } finally {
      await server.services.store.delete(server.services.keys.language(BARAKA));
    }
  });

  it('should refuse a forged or missing secret with 403, send nothing and claim nothing', async () => {
    const result = await postTxn(2, 'deposit', 200);
    const body = payloadOf(result, 'DEPOSIT', 200);
    const forged = [
      '/hooks/fineract',
      '/hooks/fineract/',
      '/hooks/fineract?key=',
      '/hooks/fineract?key=wrong-secret-0123456789',
      `/hooks/fineract?key=${SECRET}x`,
      `/hooks/fineract?key=${SECRET.slice(0, -1)}`,
      `/hooks/fineract?key=${SECRET}&key=${SECRET}`,
      '/hooks/fineract/wrong-secret-0123456789/',
      `/hooks/fineract/${SECRET}x/`,
      `/hooks/fineract/${SECRET.slice(0, -1)}/`,
      `/hooks/fineract/${SECRET.toUpperCase()}/`,
      `/hooks/fineract/x/?key=${SECRET}`,
    ];
    for (const path of forged) {
      const res = await hook({ body, path });
      expect(res.status, path).toBe(403);
      expect(res.text).toBe('forbidden');
    }
    // Refused before the body is read: a malformed body gets 403 too.
    expect((await hook({ body: [], path: '/hooks/fineract/nope-nope-nope-nope/' })).status).toBe(403);
    await server.services.queue.idle();
    expect(outbox(BARAKA)).toEqual([]);
    const key = hookEventKey(server.services.keys, { action: 'DEPOSIT', savingsId: 2, transactionId: result.resourceId });
    expect(await server.services.store.get(key)).toBeNull();
    // The genuine delivery afterwards still works: nothing was claimed by the forgeries.
    expect((await hook({ body })).json).toEqual({ status: 'accepted' });
    await server.services.queue.idle();
    expect(outbox(BARAKA)).toHaveLength(1);
  });

  it('should alert once when the same hook arrives twice, or five times at once', async () => {
    const start = balance(2);
    const result = await postTxn(2, 'deposit', 300);
    const body = payloadOf(result, 'DEPOSIT', 300);
    expect((await hook({ body })).json).toEqual({ status: 'accepted' });
    expect((await hook({ body })).json).toEqual({ status: 'duplicate' });
    const second = await postTxn(2, 'deposit', 301);
    const answers = await Promise.all(Array.from({ length: 5 }, () => hook({ body: payloadOf(second, 'DEPOSIT', 301) })));
    expect(answers.map((a) => a.json?.status).sort()).toEqual(['accepted', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    await server.services.queue.idle();
    expect(outbox(BARAKA).map((m) => m.text)).toEqual([
      `Deposit of KES 300.00 to 000000002. Balance ${kes(start + 300)}.`,
      `Deposit of KES 301.00 to 000000002. Balance ${kes(start + 601)}.`,
    ]);
  });

  it('should still alert when the claim cannot be written once the job is queued (Fineract never delivers a hook again)', async () => {
    const store = server.services.store;
    const setIfAbsent = store.setIfAbsent.bind(store);
    // The store fails just for the claim, as a Redis command timing out (or the process dying) between the two steps would.
    store.setIfAbsent = () => Promise.reject(new Error('Command timed out'));
    let res: Awaited<ReturnType<typeof hook>>;
    try {
      const start = balance(2);
      const result = await postTxn(2, 'deposit', 250);
      res = await hook({ body: payloadOf(result, 'DEPOSIT', 250) });
      await server.services.queue.idle();
      expect(outbox(BARAKA).map((m) => m.text)).toEqual([`Deposit of KES 250.00 to 000000002. Balance ${kes(start + 250)}.`]);
    } finally {
      store.setIfAbsent = setIfAbsent;
    }
    expect(res).toMatchObject({ status: 200, json: { status: 'accepted' } });
  });

  it('should write the alert from the re-read account when the payload lies about the amount', async () => {
    const result = await postTxn(2, 'deposit', 1000);
    const after = balance(2);
    const lying = payloadOf(result, 'DEPOSIT', 1_000_000);
    (lying.response.changes as Record<string, unknown>).transactionAmount = 1_000_000;
    expect((await hook({ body: lying })).status).toBe(200);
    await server.services.queue.idle();
    expect(outbox(BARAKA).map((m) => m.text)).toEqual([`Deposit of KES 1,000.00 to 000000002. Balance ${kes(after)}.`]);
  });

  it('should alert nobody when the payload names another owner, or a withdrawal as a deposit', async () => {
    const result = await postTxn(2, 'deposit', 700);
    // Amina claimed as the owner of Baraka's account: the re-read account belongs to Baraka, so no alert to anyone.
    const stolen = payloadOf({ ...result, clientId: 1 }, 'DEPOSIT', 700);
    expect((await hook({ body: stolen })).json).toEqual({ status: 'accepted' });
    // A withdrawal relabelled as a deposit.
    const withdrawal = await postTxn(2, 'withdrawal', 50);
    expect((await hook({ body: payloadOf(withdrawal, 'DEPOSIT', 50) })).json).toEqual({ status: 'accepted' });
    await server.services.queue.idle();
    expect(outbox(AMINA)).toEqual([]);
    expect(outbox(BARAKA)).toEqual([]);
    expect(server.logs.text).toContain('Fineract hook names a client who does not own the account: no alert');
    expect(server.logs.text).toContain('Fineract hook action does not match the transaction: no alert');
  });

  it('should answer 4xx to malformed hooks and 200 "ignored" to events it does not handle, never 5xx', async () => {
    const result = await postTxn(2, 'deposit', 10);
    const good = payloadOf(result, 'DEPOSIT', 10);
    const malformed: [HookPost, number][] = [
      [{ body: null, raw: '{"entityName": "SAVINGSACCOUNT",' }, 400],
      [{ body: [] }, 400],
      [{ body: 'deposit' }, 400],
      [{ body: { ...good, response: { clientId: 2, savingsId: 2 } } }, 400],
      [{ body: { ...good, response: { ...good.response, resourceId: 'forty-seven' } } }, 400],
      [{ body: { ...good, response: { ...good.response, savingsId: -2 } } }, 400],
      [{ body: { ...good, clientId: 3 } }, 400],
      [{ body: { ...good, actionName: 'WITHDRAWAL' } }, 400],
      [{ body: good, contentType: 'application/x-www-form-urlencoded', raw: 'entityName=SAVINGSACCOUNT' }, 415],
      [{ body: good, contentType: 'text/plain' }, 415],
    ];
    for (const [post, status] of malformed) {
      const res = await hook(post);
      expect(res.status, JSON.stringify(post).slice(0, 120)).toBe(status);
    }
    const ignored: HookPost[] = [
      { body: { ...good, entityName: 'LOAN', actionName: 'REPAYMENT' }, entity: 'LOAN', action: 'REPAYMENT' },
      { body: { ...good, entityName: 'ACCOUNTTRANSFER', actionName: 'CREATE' }, entity: 'ACCOUNTTRANSFER', action: 'CREATE' },
      { body: { ...good, status: 'Exception', response: { errorCode: 'error.msg', statusCode: 403 } } },
    ];
    for (const post of ignored) expect((await hook(post)).json).toMatchObject({ status: 'ignored' });
    await server.services.queue.idle();
    expect(outbox(BARAKA)).toEqual([]);
  });
});

describe('Fineract loan hooks (issue 12): a hint to mirror the loan application the loan belongs to', () => {
  /** The payload of a LOAN command (CommandProcessingResult of approveApplication and the like: loanId = resourceId). */
  const loanPayload = (loanId: number, action: string, timestamp = new Date().toISOString()) => ({
    entityName: 'LOAN',
    actionName: action,
    createdBy: 1,
    createdByName: 'mifos',
    createdByFullName: 'App Administrator',
    request: { approvedOnDate: today(), dateFormat: 'yyyy-MM-dd', locale: 'en' },
    officeId: 1,
    clientId: 1,
    response: { clientId: 1, loanId, resourceId: loanId, resourceExternalId: null, changes: { status: { id: 200 } } },
    timestamp,
  });
  const loanHook = (body: unknown, action = 'APPROVE') => hook({ body, entity: 'LOAN', action });
  // Amina's Biashara loan in the demo data: active, no external id.
  const DEMO_LOAN = 101;

  it('should claim a loan event once, tell a redelivery from the same action done again, and leave a loan that is no application alone', async () => {
    const before = server.logs.lines.length;
    const body = loanPayload(DEMO_LOAN, 'APPROVE');
    expect((await loanHook(body)).json).toEqual({ status: 'accepted' });
    expect((await loanHook(body)).json).toEqual({ status: 'duplicate' });
    expect(
      await server.services.store.get(loanHookEventKey(server.services.keys, { action: 'APPROVE', loanId: DEMO_LOAN }, body.timestamp)),
    ).toBe('1');
    // Approved again later (after an undo): a new event.
    const later = loanPayload(DEMO_LOAN, 'APPROVE', new Date(Date.now() + 1000).toISOString());
    expect((await loanHook(later)).json).toEqual({ status: 'accepted' });
    await server.services.queue.idle();
    const lines = server.logs.lines.slice(before).join('\n');
    expect(lines.match(/loan is not a Kiunga application: nothing mirrored/g)).toHaveLength(2);
    expect(outbox(AMINA)).toEqual([]);
  });

  it("should not mirror an application whose id a loan's external id names when the application has another loan", async () => {
    const { applications, sandbox } = server.services;
    const id = 'ab'.repeat(16);
    const application: Application = {
      id,
      ref: 'HOOKTEST',
      state: 'in-core',
      msisdn: AMINA,
      lang: 'en',
      clientId: 1,
      productId: 1,
      productName: 'Biashara Loan',
      principalCents: 1_000_000,
      repayments: 6,
      currency: 'KES',
      quote: { instalmentCents: 191_667, totalRepaymentCents: 1_150_000, totalCostCents: 150_000, currency: 'KES' },
      checks: [],
      loanId: 999_999,
      channel: 'ussd',
      createdAt: Date.now(),
      updatedAt: Date.now(),
      version: 1,
    };
    expect(await applications.records.create(application)).toBe(true);
    // Someone gave the demo loan (active) that external id in Fineract.
    sandbox!.bank.data.loans.find((l) => l.id === DEMO_LOAN)!.externalId = id;
    expect((await loanHook(loanPayload(DEMO_LOAN, 'DISBURSE'), 'DISBURSE')).json).toEqual({ status: 'accepted' });
    await server.services.queue.idle();
    expect(server.logs.text).toContain("loan's external id names an application with another loan: nothing mirrored");
    expect((await applications.get(id))!.state).toBe('in-core');
    expect(outbox(AMINA)).toEqual([]);
  });

  it('should answer 4xx to a malformed loan hook, and ignore the loan commands that change no status', async () => {
    const good = loanPayload(DEMO_LOAN, 'REJECT');
    const { loanId: _loanId, ...noLoanId } = good.response;
    const malformed: unknown[] = [
      { ...good, response: noLoanId },
      { ...good, response: { ...good.response, resourceId: DEMO_LOAN + 1 } },
      { ...good, response: { ...good.response, loanId: -1 } },
      { ...good, response: { ...good.response, loanId: '101' } },
    ];
    for (const body of malformed) expect((await loanHook(body, 'REJECT')).status, JSON.stringify(body).slice(0, 200)).toBe(400);
    for (const action of ['REPAYMENT', 'CREATE', 'UPDATE', 'WAIVEINTERESTPORTION']) {
      expect((await loanHook({ ...good, actionName: action }, action)).json).toEqual({ status: 'ignored', reason: 'event not handled' });
    }
    // A failed approval (1.9+: no response) is quiet, as for savings.
    const { response: _response, ...failed } = good;
    expect((await loanHook({ ...failed, actionName: 'APPROVE' })).json).toEqual({ status: 'ignored', reason: 'failed command' });
    await server.services.queue.idle();
    expect(outbox(AMINA)).toEqual([]);
  });
});

describe('Fineract hooks: where Fineract posts them', () => {
  it('should take the secret from the path Fineract posts to, with or without the trailing slash, and ?key= as a fallback', async () => {
    const paths = [`/hooks/fineract/${SECRET}/`, `/hooks/fineract/${SECRET}`, `/hooks/fineract?key=${SECRET}`];
    for (const path of paths) {
      const result = await postTxn(2, 'deposit', 20);
      expect((await hook({ body: payloadOf(result, 'DEPOSIT', 20), path })).json, path).toEqual({ status: 'accepted' });
    }
    await server.services.queue.idle();
    expect(outbox(BARAKA)).toHaveLength(3);
  });

  it('should answer the failure hooks of Fineract 1.9+ (no status, no response) 200 "ignored", logging nothing above debug', async () => {
    const before = server.logs.lines.length;
    // publishHookErrorEvent since 1.9: the error is a String, so only the request part of the payload is sent.
    const failed = {
      entityName: 'SAVINGSACCOUNT',
      actionName: 'WITHDRAWAL',
      createdBy: 1,
      createdByName: 'mifos',
      createdByFullName: 'App Administrator',
      request: { transactionDate: today(), dateFormat: 'yyyy-MM-dd', locale: 'en', transactionAmount: 1e9, paymentTypeId: 2.0 },
      timestamp: new Date().toISOString(),
    };
    for (const action of ['WITHDRAWAL', 'DEPOSIT']) {
      const res = await hook({ body: { ...failed, actionName: action }, action });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ status: 'ignored', reason: 'failed command' });
    }
    // Up to 1.8: status "Exception" and the error in `response`.
    const old = {
      ...failed,
      status: 'Exception',
      response: {
        errorCode: null,
        statusCode: 403,
        userMessageGlobalisationCode: 'error.msg.savingsaccount.transaction.insufficient.account.balance',
      },
    };
    expect((await hook({ body: old, action: 'WITHDRAWAL' })).json).toEqual({ status: 'ignored', reason: 'failed command' });
    await server.services.queue.idle();
    expect(outbox(BARAKA)).toEqual([]);
    const lines = server.logs.lines.slice(before).join('\n');
    expect(lines).not.toMatch(/Fineract hook/);
  });

  it('should never write the hook secret to its logs or metrics, even for a request it refuses', async () => {
    const before = server.logs.lines.length;
    // A body the JSON parser refuses: the error handler logs the path.
    const res = await hook({ body: null, raw: '{"entityName": "SAVINGSACCOUNT",' });
    expect(res.status).toBe(400);
    const big = await hook({ body: null, raw: JSON.stringify({ pad: 'x'.repeat(20_000) }) });
    expect(big.status).toBe(413);
    const lines = server.logs.lines.slice(before).join('\n');
    expect(lines).toContain('/hooks/fineract/[redacted]');
    expect(lines).not.toContain(SECRET);
    expect(server.logs.text).not.toContain(SECRET);
    // Metrics label requests by route pattern, never by path.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('route="/hooks/fineract/:secret"');
    expect(metrics).not.toContain(SECRET);
  });
});

describe("Fineract hooks posted by the sandbox's hook emitter, as Fineract posts them", () => {
  const sandbox = () => server.services.sandbox!;
  const register = (
    payloadUrl: string,
    events = [
      { entityName: 'SAVINGSACCOUNT', actionName: 'DEPOSIT' },
      { entityName: 'SAVINGSACCOUNT', actionName: 'WITHDRAWAL' },
    ],
  ) =>
    call(sandbox(), '/hooks', {
      body: {
        name: 'Web',
        displayName: `kiunga-${Math.random().toString(36).slice(2)}`,
        isActive: true,
        events,
        config: { 'Payload URL': payloadUrl, 'Content Type': 'json' },
      },
    });
  beforeEach(() => sandbox().hooks.clear());

  it('should alert the customer exactly once after a deposit made through the sandbox API', async () => {
    const registered = await register(`${server.url}/hooks/fineract/${SECRET}/`);
    expect(registered.status).toBe(200);
    expect(registered.json).toEqual({ resourceId: expect.any(Number) });
    const start = balance(2);
    const result = await postTxn(2, 'deposit', 1250);
    await sandbox().hooks.idle();
    expect(sandbox().hooks.deliveries).toEqual([
      {
        hookId: registered.json.resourceId,
        url: `${server.url}/hooks/fineract/${SECRET}/`,
        entity: 'SAVINGSACCOUNT',
        action: 'DEPOSIT',
        status: 200,
      },
    ]);
    await server.services.queue.idle();
    expect(outbox(BARAKA).map((m) => m.text)).toEqual([`Deposit of KES 1,250.00 to 000000002. Balance ${kes(start + 1250)}.`]);
    expect(result.resourceId).toBeGreaterThan(0);
  });

  it('should ignore the failure hook of a refused withdrawal and the events it was not registered for', async () => {
    await register(`${server.url}/hooks/fineract/${SECRET}/`);
    const refused = await call(sandbox(), '/savingsaccounts/2/transactions?command=withdrawal', {
      body: savingsTxnBody({ transactionDate: today(), transactionAmount: 1_000_000 }),
    });
    expect(refused.status).toBe(403);
    // A transfer is not among the registered events: no delivery.
    await sandbox().hooks.idle();
    expect(sandbox().hooks.deliveries.map((d) => [d.action, d.status])).toEqual([['WITHDRAWAL', 200]]);
    await server.services.queue.idle();
    expect(outbox(BARAKA)).toEqual([]);
  });

  it('should drop the query string of the Payload URL, as Retrofit does: a secret in ?key= never arrives', async () => {
    // The URL the README used to give: it registers (the path ends in /) but every delivery is refused.
    await register(`${server.url}/hooks/fineract/?key=${SECRET}`);
    await postTxn(2, 'deposit', 40);
    await sandbox().hooks.idle();
    expect(sandbox().hooks.deliveries.map((d) => [d.url, d.status])).toEqual([[`${server.url}/hooks/fineract/`, 403]]);
    await server.services.queue.idle();
    expect(outbox(BARAKA)).toEqual([]);
  });

  it('should refuse, as Fineract does, a Payload URL that does not end in / (500) and any target off this machine', async () => {
    const noSlash = await register(`${server.url}/hooks/fineract/${SECRET}`);
    expect(noSlash.status).toBe(500);
    expect(noSlash.json.Exception).toMatch(/^baseUrl must end in \//);
    const withQuery = await register(`${server.url}/hooks/fineract?key=${SECRET}`);
    expect(withQuery.status).toBe(500);
    const remote = await register(`https://hooks.example.org/hooks/fineract/${SECRET}/`);
    expect(remote.status).toBe(400);
    expect(remote.json.errors[0].userMessageGlobalisationCode).toBe('validation.msg.hook.url.invalid');
    expect(sandbox().hooks.list()).toEqual([]);
  });
});

describe('Fineract hooks without a secret configured', () => {
  it('should refuse every hook', async () => {
    const bare = await startTestServer({ REDIS_URL: '' });
    try {
      const res = await fetch(`${bare.url}/hooks/fineract?key=`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(403);
    } finally {
      await bare.close();
    }
  });
});
