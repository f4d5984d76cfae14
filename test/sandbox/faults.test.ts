import { describe, expect, it } from 'vitest';
import { DEMO_LOANS, DEMO_SAVINGS, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { BUSINESS_DATE, balance, call, codes, repaymentBody, savingsTxnBody, transferBody, sandboxForEachTest } from './api.js';

let sandbox: Sandbox;

sandboxForEachTest((s) => (sandbox = s));

const AMINA = DEMO_SAVINGS.amina.id;
const BARAKA = DEMO_SAVINGS.baraka.id;
const LOAN = DEMO_LOANS.amina.id;
const transfer = (key?: string, overrides: Record<string, unknown> = {}) =>
  call(sandbox, '/accounttransfers', { body: transferBody(overrides), ...(key ? { idempotencyKey: key } : {}) });

describe('idempotency (Fineract 1.9+)', () => {
  it('replays a processed request with the stored answer and x-served-from-cache, moving money once', async () => {
    const first = await transfer('key-1');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-served-from-cache')).toBeNull();
    const again = await transfer('key-1', { transferAmount: 999 });
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('x-served-from-cache')).toBe('true');
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 500_00);
    const log = sandbox.control.requests.filter((r) => r.method === 'POST');
    expect(log.map((r) => [r.status, r.idempotencyKey, r.committed, r.servedFromCache])).toEqual([
      [200, 'key-1', true, undefined],
      [200, 'key-1', undefined, true],
    ]);
  });

  it('replays a failure too: a failed key stays failed, a new key can succeed', async () => {
    const first = await transfer('key-2', { transferAmount: 20_000 });
    expect(first.status).toBe(403);
    await call(sandbox, `/savingsaccounts/${AMINA}/transactions?command=deposit`, { body: savingsTxnBody({ transactionAmount: 10_000 }) });
    const replay = await transfer('key-2', { transferAmount: 20_000 });
    expect([replay.status, replay.headers.get('x-served-from-cache'), replay.text]).toEqual([403, 'true', first.text]);
    expect((await transfer('key-3', { transferAmount: 20_000 })).status).toBe(200);
  });

  it('scopes a key by (action, entity), not by resource', async () => {
    const dep = (id: number) =>
      call(sandbox, `/savingsaccounts/${id}/transactions?command=deposit`, { body: savingsTxnBody(), idempotencyKey: 'shared' });
    const first = await dep(AMINA);
    const other = await dep(BARAKA);
    expect(other.json.savingsId).toBe(AMINA);
    expect(other.headers.get('x-served-from-cache')).toBe('true');
    expect(balance(sandbox, BARAKA)).toBe(3_000_00);
    const withdrawal = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=withdrawal`, {
      body: savingsTxnBody(),
      idempotencyKey: 'shared',
    });
    expect([withdrawal.status, withdrawal.headers.get('x-served-from-cache')]).toEqual([200, null]);
    expect((await transfer('shared')).headers.get('x-served-from-cache')).toBeNull();
    expect(first.status).toBe(200);
  });

  it('does not dedupe requests without the header', async () => {
    expect((await transfer()).json.resourceId).toBe(1);
    expect((await transfer()).json.resourceId).toBe(2);
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 1000_00);
  });

  it('answers 425 with x-served-from-cache while the same key is still processing', async () => {
    sandbox.control.writeLatencyMs = 100;
    const answers = await Promise.all([transfer('busy'), transfer('busy'), transfer('busy')]);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 425, 425]);
    for (const a of answers.filter((x) => x.status === 425)) {
      expect(a.headers.get('x-served-from-cache')).toBe('true');
      expect(a.text).toBe('');
    }
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 500_00);
    expect((await transfer('busy')).headers.get('x-served-from-cache')).toBe('true');
  });

  it('ignores the header entirely in 1.8 mode', async () => {
    sandbox.control.version = '1.8';
    const a = await transfer('same');
    const b = await transfer('same');
    expect([a.json.resourceId, b.json.resourceId]).toEqual([1, 2]);
    expect(b.headers.get('x-served-from-cache')).toBeNull();
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 1000_00);
    expect((await call(sandbox, `/savingsaccounts/${AMINA}/transactions/search?limit=1`)).status).toBe(404);
  });
});

describe('fault injection', () => {
  it('fails a seeded, reproducible share of API requests with 500 {"Exception": ...}', async () => {
    const run = async () => {
      sandbox.control.seed = 42;
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await call(sandbox, '/clients/1')).status);
      return out;
    };
    sandbox.control.errorRate = 0.5;
    const first = await run();
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await run()).toEqual(first);
    const failed = await (async () => {
      sandbox.control.errorRate = 1;
      return call(sandbox, '/accounttransfers', { body: transferBody() });
    })();
    expect(failed.status).toBe(500);
    expect(Object.keys(failed.json)).toEqual(['Exception']);
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
  });

  it('commits, then delays the answer past the caller timeout (timeoutAfterCommit: delay)', async () => {
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'delay', ms: 120 };
    await expect(transfer('late', {}).then(() => 'answered')).resolves.toBe('answered'); // a patient caller gets it
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'delay', ms: 200 };
    const impatient = call(sandbox, '/accounttransfers', {
      body: transferBody(),
      idempotencyKey: 'late-2',
      signal: AbortSignal.timeout(50),
    });
    await expect(impatient).rejects.toThrow();
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 1000_00);
    const replay = await transfer('late-2');
    expect([replay.json.resourceId, replay.headers.get('x-served-from-cache')]).toEqual([2, 'true']);
    expect(sandbox.control.timeoutAfterCommit).toBeNull();
  });

  it('commits, then drops the connection (timeoutAfterCommit: destroy), only for writes that commit', async () => {
    sandbox.control.timeoutAfterCommit = { count: 1, mode: 'destroy', ms: 0 };
    expect((await transfer('x', { transferAmount: 1e6 })).status).toBe(403); // not committed: answered, not consumed
    await expect(transfer('dropped')).rejects.toThrow();
    expect(balance(sandbox, AMINA)).toBe(12_500_00 - 500_00);
    const entry = sandbox.control.requests.at(-1);
    expect(entry).toMatchObject({ method: 'POST', idempotencyKey: 'dropped', committed: true, at: expect.any(Number) });
    expect(entry?.status).toBeUndefined();
    expect((await transfer('next')).status).toBe(200);
  });

  it('answers writes with 405 error.msg.invalid.instance.type on a read-only instance', async () => {
    sandbox.control.readOnly = true;
    const r = await transfer('ro');
    expect(r.status).toBe(405);
    expect(r.json).toMatchObject({ httpStatusCode: '405', userMessageGlobalisationCode: 'error.msg.invalid.instance.type' });
    expect((await call(sandbox, `/savingsaccounts/${AMINA}`)).status).toBe(200);
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
  });

  it('runs a read replica as a second sandbox with its own copy of the data', async () => {
    const replica = await startSandbox({ businessDate: BUSINESS_DATE, readOnly: true });
    try {
      expect((await transfer()).status).toBe(200);
      const read = await call(replica, `/savingsaccounts/${AMINA}`);
      expect(read.json.summary.accountBalance).toBe(12_500); // shares nothing: never sees the writer's transfer
      expect((await call(replica, '/accounttransfers', { body: transferBody() })).status).toBe(405);
      replica.control.reset();
      expect(replica.control.readOnly).toBe(true);
    } finally {
      await replica.close();
    }
  });

  it('checks and rolls back a write under maker-checker, answering {commandId, rollbackTransaction}', async () => {
    sandbox.control.makerChecker = true;
    const r = await transfer('mc');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ commandId: expect.any(Number), rollbackTransaction: true });
    const dep = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=deposit`, { body: savingsTxnBody() });
    expect(dep.json).toEqual({ commandId: expect.any(Number), resourceId: BARAKA, rollbackTransaction: true });
    expect((await transfer('mc-2', { transferAmount: 1e6 })).status).toBe(403);
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
    expect(balance(sandbox, BARAKA)).toBe(3_000_00);
    expect(sandbox.bank.data.transfers).toEqual([]);
    expect(sandbox.control.requests.some((q) => q.committed)).toBe(false);
  });

  it('locks loans with 409 error.msg.loan.locked; a lock refused before processing can be retried with the same key', async () => {
    sandbox.control.loanLocked = true;
    const repay = () => call(sandbox, `/loans/${LOAN}/transactions?command=repayment`, { body: repaymentBody(), idempotencyKey: 'cob' });
    const locked = await repay();
    expect([locked.status, locked.json.userMessageGlobalisationCode]).toEqual([409, 'error.msg.loan.locked']);
    const toLoan = await transfer('cob-t', { toAccountType: 1, toAccountId: LOAN });
    expect([toLoan.status, toLoan.json.userMessageGlobalisationCode]).toEqual([409, 'error.msg.loan.locked']);
    expect(balance(sandbox, AMINA)).toBe(12_500_00);
    expect((await transfer('s2s')).status).toBe(200);
    sandbox.control.loanLocked = false;
    const retried = await repay();
    expect([retried.status, retried.headers.get('x-served-from-cache')]).toEqual([200, null]);
  });

  it('refuses a denied command permission with 403 error.msg.not.authorized', async () => {
    sandbox.control.deniedPermissions.add('CREATE_ACCOUNTTRANSFER');
    const r = await transfer();
    expect([r.status, r.json.userMessageGlobalisationCode]).toEqual([403, 'error.msg.not.authorized']);
    const dep = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=deposit`, { body: savingsTxnBody() });
    expect(dep.status).toBe(200);
    sandbox.control.deniedPermissions.add('DEPOSIT_SAVINGSACCOUNT');
    const denied = await call(sandbox, `/savingsaccounts/${BARAKA}/transactions?command=deposit`, { body: savingsTxnBody() });
    expect([denied.status, codes(denied)]).toEqual([403, []]);
  });
});

describe('control API over HTTP', () => {
  const control = (body: unknown) =>
    fetch(`http://127.0.0.1:${sandbox.port}/sandbox/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('sets every fault switch, reports the state and refuses unknown members', async () => {
    const res = await control({
      errorRate: 0.25,
      seed: 7,
      version: '1.8',
      readOnly: true,
      makerChecker: true,
      loanLocked: true,
      writeLatencyMs: 5,
      timeoutAfterCommit: { count: 2, mode: 'delay', ms: 50 },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      errorRate: 0.25,
      seed: 7,
      version: '1.8',
      readOnly: true,
      makerChecker: true,
      loanLocked: true,
      writeLatencyMs: 5,
      timeoutAfterCommit: { count: 2, mode: 'delay', ms: 50 },
    });
    expect((await control({ errorRate: 2 })).status).toBe(400);
    expect((await control({ timeoutAfterCommit: { count: 1, mode: 'explode' } })).status).toBe(400);
    const reset = (await (await control({ reset: true })).json()) as Record<string, unknown>;
    expect(reset).toMatchObject({
      errorRate: 0,
      version: '1.10',
      readOnly: false,
      makerChecker: false,
      loanLocked: false,
      timeoutAfterCommit: null,
    });
  });

  it('logs writes with their timestamp, status and idempotency key', async () => {
    const before = Date.now();
    await transfer('logged');
    await transfer('logged');
    const log = (await (await fetch(`http://127.0.0.1:${sandbox.port}/sandbox/requests`)).json()) as Record<string, unknown>[];
    expect(log).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/fineract-provider/api/v1/accounttransfers',
        status: 200,
        idempotencyKey: 'logged',
        committed: true,
      }),
      expect.objectContaining({ method: 'POST', status: 200, idempotencyKey: 'logged', servedFromCache: true }),
    ]);
    expect(log[0]?.at).toBeGreaterThanOrEqual(before);
  });
});
