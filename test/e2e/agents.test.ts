import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';
import { cashOutCode } from '../../src/agents/agent-notices.js';
import { DEFAULT_AGENT_LIMITS } from '../../src/agents/registry.js';

/**
 * Agents over real HTTP against the sandbox (issue 11; threats T14, T32). Chanya (client 3, PIN 1357) is the
 * sandbox's agent, store 5501, float 000000003; she dials the agent code *384*124#.
 */

const AGENT_CODE = '*384*124#';
const TOKEN = 'agent-test-operator-token-0123456789';
const CHANYA = { msisdn: '+254711000003', pin: '1357', clientId: 3, float: 3 };
const AMINA = { msisdn: '+254711000001', clientId: 1, accountId: 1 };
const BARAKA = { msisdn: '+254711000002', clientId: 2, accountId: 2 };

let server: TestServer;

const bank = () => server.services.sandbox!.bank;
/** Ledger and available balance of a sandbox savings account, in cents (exact). */
const balances = (id: number) => {
  const account = bank().savingsAccount(id)!;
  return { ledger: bank().balance(account), available: bank().availableBalance(account) };
};
const committedTransfers = () =>
  server.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers') && r.committed)
    .length;
const sms = (msisdn: string) => server.services.outbox!.list(msisdn).map((m) => m.text);

async function smsMatching(msisdn: string, pattern: RegExp): Promise<string> {
  for (let waited = 0; waited < 5000; waited += 20) {
    const found = sms(msisdn).find((t) => pattern.test(t));
    if (found) return found;
    await sleep(20);
  }
  throw new Error(`no SMS matching ${pattern} for ${msisdn}: ${JSON.stringify(sms(msisdn))}`);
}

async function auditEntries(type: string): Promise<Record<string, unknown>[]> {
  const { audit } = server.services;
  await audit.flush(5000);
  const entries: Record<string, unknown>[] = [];
  for await (const record of audit.entries()) entries.push(record.entry as unknown as Record<string, unknown>);
  return entries.filter((e) => e.type === type);
}

/** Chanya dials the agent code, types her PIN, picks 1 (cash-in) or 2 (cash-out), the number and the amount. */
async function agentAsks(menu: '1' | '2', phone: string, amount: string) {
  const session = atSession(server, CHANYA.msisdn, AGENT_CODE);
  expect((await session.send()).body).toBe('CON Agent Chanya. Enter your PIN:');
  expect((await session.send(CHANYA.pin)).body).toMatch(/^CON Agent menu \(store 5501\)/);
  expect((await session.send(menu)).body).toBe("CON Customer's phone number:");
  await session.send(phone);
  const confirm = await session.send(amount);
  return { session, confirm };
}

/** Amina dials the customer code on her own phone, types her PIN and opens Approvals (menu 10). */
async function aminaOpensApprovals() {
  const session = atSession(server, AMINA.msisdn);
  await session.send();
  expect((await session.send('1234')).body).toMatch(/10\. Approvals \(1\)/);
  return { session, screen: (await session.send('10')).body };
}

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKENS: `wanjiku:${TOKEN}` });
});
afterAll(async () => {
  await server?.close();
});

describe('agent cash-in over USSD', () => {
  it('should move exactly KES 1,000.00 from the float to Baraka once, after the agent PIN, and tell both by SMS', async () => {
    const float = balances(CHANYA.float);
    const baraka = balances(BARAKA.accountId);
    const commits = committedTransfers();
    const { session, confirm } = await agentAsks('1', '0711000002', '1000');
    expect(confirm.body).toBe('CON Cash-in KES 1,000.00 to Baraka O. (0711***002) from your float? Enter PIN to confirm:');
    // Nothing moved before the PIN.
    expect(committedTransfers()).toBe(commits);
    expect((await session.send(CHANYA.pin)).body).toMatch(/^END Done: KES 1,000\.00 to Baraka O\./);
    // An aggregator retry of the same hop replays the answer: nothing runs again.
    expect((await session.resend()).body).toMatch(/^END Done: KES 1,000\.00 to Baraka O\./);
    expect(committedTransfers()).toBe(commits + 1);
    expect(balances(CHANYA.float).ledger).toBe(float.ledger - 1_000_00);
    expect(balances(BARAKA.accountId).ledger).toBe(baraka.ledger + 1_000_00);
    const floatNow = new Intl.NumberFormat('en', { minimumFractionDigits: 2 }).format(balances(CHANYA.float).available / 100);
    expect(await smsMatching(CHANYA.msisdn, /^Cash-in of KES 1,000\.00 to Baraka O\./)).toContain(`Float balance: KES ${floatNow}`);
    await smsMatching(BARAKA.msisdn, /^You received KES 1,000\.00 from Chanya M\./);
    // The agent gets the float SMS instead of the generic "You sent" receipt.
    expect(sms(CHANYA.msisdn).filter((t) => t.startsWith('You sent KES 1,000.00'))).toEqual([]);
  });

  it('should refuse a customer the agent is not: the agent cannot cash in to themselves', async () => {
    const session = atSession(server, CHANYA.msisdn, AGENT_CODE);
    await session.send();
    await session.send(CHANYA.pin);
    await session.send('1');
    expect((await session.send('0711000003')).body).toBe("CON No customer with that number. Customer's phone number:");
  });

  it('should show the float balance and its statement with the cash-in', async () => {
    const session = atSession(server, CHANYA.msisdn, AGENT_CODE);
    await session.send();
    await session.send(CHANYA.pin);
    expect((await session.send('4')).body).toMatch(/^END Float statement\n.*-KES 1,000\.00/s);
    const again = atSession(server, CHANYA.msisdn, AGENT_CODE);
    await again.send();
    await again.send(CHANYA.pin);
    expect((await again.send('3')).body).toMatch(/^END Float balance: KES [\d,]+\.\d\d$/);
  });

  it('should refuse a number that is no agent after its PIN', async () => {
    const session = atSession(server, AMINA.msisdn, AGENT_CODE);
    await session.send();
    expect((await session.send('1234')).body).toBe('END This number is not registered as an agent.');
  });
});

describe('agent cash-out the customer confirms', () => {
  it('should move nothing until Amina confirms on her own phone with the store number and her PIN, then move KES 2,000.00 once and tell the agent to pay', async () => {
    const amina = balances(AMINA.accountId);
    const float = balances(CHANYA.float);
    const commits = committedTransfers();
    const { session, confirm } = await agentAsks('2', '0711000001', '2000');
    expect(confirm.body).toMatch(
      /^CON Cash-out KES 2,000\.00 for Amina W\. \(0711\*\*\*001\), fee KES 30\.00\. The customer confirms on their own phone\./,
    );
    expect((await session.send(CHANYA.pin)).body).toMatch(
      /^END Request sent \(ref [A-Z0-9]{8}\)\. Amina W\. must confirm on their own phone within 5 min\./,
    );

    // Held on Amina's savings, nothing moved, and Amina's SMS names the agent, the store and the amount.
    // The cash and its fee (flows/fees/agent-fees.yaml: KES 30.00 from 1,000.01 to 2,500.00) are held together.
    expect(balances(AMINA.accountId)).toEqual({ ledger: amina.ledger, available: amina.available - 2_030_00 });
    expect(committedTransfers()).toBe(commits);
    const asked = await smsMatching(
      AMINA.msisdn,
      /^Agent Chanya M\. \(5501\): cash KES 2,000\.00, KES 2,030\.00 from your account \(fee KES 30\.00\)\. Confirm: dial \*384\*123# > Approvals/,
    );
    expect(asked).toContain('Approvals');
    const [approval] = await server.services.approvals.waitingFor(AMINA.clientId);
    expect(approval).toMatchObject({ kind: 'cash-out', state: 'pending', requester: { clientId: CHANYA.clientId }, required: 1 });

    // The agent cannot confirm for the customer; a wrong store number on Amina's own phone ends it, nothing moves.
    expect(await server.services.approvals.approve(approval!.id, CHANYA.clientId)).toEqual({ outcome: 'refused', reason: 'own-request' });
    expect(await server.services.agents.storeMatches(approval!.id, BARAKA.clientId, '5501')).toBe(false);
    expect((await aminaOpensApprovals()).screen).toMatch(/^CON Approvals waiting for you:\n1\. KES 2,000\.00/);
    const wrong = await aminaOpensApprovals();
    expect((await wrong.session.send('1')).body).toMatch(/Enter the store number shown at the agent's counter:$/);
    expect((await wrong.session.send('5502')).body).toMatch(
      /^END That is not the store number of the agent who asked\. No money was moved\./,
    );
    expect(committedTransfers()).toBe(commits);

    // The right store number, then her PIN: the money moves once.
    const right = await aminaOpensApprovals();
    await right.session.send('1');
    expect((await right.session.send('5501')).body).toMatch(/^CON Enter your PIN to approve KES 2,000\.00/);
    expect((await right.session.send('1234')).body).toMatch(/^END Approved and sent: KES 2,000\.00/);
    // Once: the request is gone from her list, and a second approval changes nothing.
    expect((await server.services.approvals.approve(approval!.id, AMINA.clientId)).outcome).toBe('refused');
    expect(committedTransfers()).toBe(commits + 1);
    // One transfer carried the cash and the fee: the agent keeps the fee as commission.
    expect(balances(AMINA.accountId)).toEqual({ ledger: amina.ledger - 2_030_00, available: amina.available - 2_030_00 });
    expect(balances(CHANYA.float).ledger).toBe(float.ledger + 2_030_00);

    const code = cashOutCode(server.config.pin.pepper, approval!.id);
    expect(await smsMatching(CHANYA.msisdn, /^Pay KES 2,000\.00 cash to Amina W\./)).toContain(`(code ${code})`);
    expect(await smsMatching(AMINA.msisdn, /^Cash-out of KES 2,000\.00 at Chanya M\. \(5501\) done/)).toContain(`Code ${code}`);
  });

  it('should not count an approval of a cash-out whose store number the customer never typed, whatever the flow does', async () => {
    const commits = committedTransfers();
    const { session } = await agentAsks('2', '0711000001', '300');
    await session.send(CHANYA.pin);
    const [approval] = await server.services.approvals.waitingFor(AMINA.clientId);
    // Straight to the approval, as a flow that forgot the store-number step would do: refused, nothing moves.
    expect(await server.services.approvals.approve(approval!.id, AMINA.clientId)).toEqual({ outcome: 'refused', reason: 'unconfirmed' });
    expect((await server.services.approvals.get(approval!.id))?.state).toBe('pending');
    expect(committedTransfers()).toBe(commits);
    // A wrong store number confirms nothing either; the right one does, and the approval then moves the money once.
    expect(await server.services.agents.storeMatches(approval!.id, AMINA.clientId, '5502')).toBe(false);
    expect((await server.services.approvals.approve(approval!.id, AMINA.clientId)).outcome).toBe('refused');
    expect(await server.services.agents.storeMatches(approval!.id, AMINA.clientId, '5501')).toBe(true);
    expect((await server.services.approvals.approve(approval!.id, AMINA.clientId)).outcome).toBe('executed');
    expect(committedTransfers()).toBe(commits + 1);
  });
  it('should move nothing and release the hold when Amina ignores the request until it expires', async () => {
    const amina = balances(AMINA.accountId);
    const commits = committedTransfers();
    const { session } = await agentAsks('2', '0711000001', '500');
    await session.send(CHANYA.pin);
    const [approval] = await server.services.approvals.waitingFor(AMINA.clientId);
    expect(balances(AMINA.accountId).available).toBe(amina.available - 500_00);
    // No second request from the same agent while one waits: nothing more is held.
    const again = await agentAsks('2', '0711000001', '700');
    expect((await again.session.send(CHANYA.pin)).body).toMatch(/^END Amina W\. already has a cash-out request from you waiting\./);
    expect(balances(AMINA.accountId).available).toBe(amina.available - 500_00);
    // The expiry job, run at the expiry (the approval's clock is the real one: its expiry is moved to now).
    const record = (await server.services.approvals.get(approval!.id))!;
    const key = `${server.config.redisPrefix}:{approvals}:rec:${record.id}`;
    await server.services.store.set(key, JSON.stringify({ ...record, expiresAt: Date.now() - 1 }));
    await server.services.approvals.expire(record.id);
    expect((await server.services.approvals.get(record.id))?.state).toBe('expired');
    expect(balances(AMINA.accountId)).toEqual(amina);
    expect(committedTransfers()).toBe(commits);
    expect(await server.services.agents.storeMatches(record.id, AMINA.clientId, '5501')).toBe(false);
    expect(await server.services.approvals.waitingFor(AMINA.clientId)).toEqual([]);
  });
  it('should fail the cash-out and move nothing when the agent is suspended before the customer confirms', async () => {
    const baraka = balances(BARAKA.accountId);
    const commits = committedTransfers();
    const { session } = await agentAsks('2', '0711000002', '300');
    expect((await session.send(CHANYA.pin)).body).toMatch(/^END Request sent/);
    expect(balances(BARAKA.accountId).available).toBe(baraka.available - 300_00);
    expect((await admin('PUT', '/admin/agents/3', { storeNumber: '5501', floatAccountNo: '000000003', status: 'suspended' })).status).toBe(
      200,
    );
    // Baraka confirms on his phone with the right store number and PIN: the re-check before execution refuses.
    const phone = atSession(server, BARAKA.msisdn);
    await phone.send();
    expect((await phone.send('2468')).body).toMatch(/10\. Approvals \(1\)/);
    await phone.send('10');
    await phone.send('1');
    await phone.send('5501');
    expect((await phone.send('2468')).body).toMatch(/^END Approved, but the payment could not be sent/);
    expect(committedTransfers()).toBe(commits);
    expect(balances(BARAKA.accountId)).toEqual(baraka);
    const failed = await auditEntries('approval.failed');
    expect(failed).toEqual(
      expect.arrayContaining([expect.objectContaining({ data: expect.objectContaining({ kind: 'cash-out', reason: 'agent-suspended' }) })]),
    );
    expect((await admin('PUT', '/admin/agents/3', { storeNumber: '5501', floatAccountNo: '000000003', status: 'active' })).status).toBe(
      200,
    );
  });
});

describe('agent limits', () => {
  it('should refuse over the daily count with a clear message, audit the refusal, and move nothing', async () => {
    const put = await admin('PUT', '/admin/agents/3', { storeNumber: '5501', floatAccountNo: '000000003', limits: { dailyCount: 1 } });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ clientId: 3, storeNumber: '5501', status: 'active', limits: { dailyCount: 1 } });
    const commits = committedTransfers();
    // Today's cash-in and cash-out above used the day's movements already.
    const { confirm } = await agentAsks('1', '0711000002', '100');
    expect(confirm.body).toBe('END Refused: this passes your daily agent limit. No money was moved.');
    expect(committedTransfers()).toBe(commits);
    expect(await auditEntries('agent.limit')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actor: 'customer:3',
          clientId: 3,
          data: expect.objectContaining({ rule: 'agent-count', direction: 'in', amountMinor: 100_00 }),
        }),
      ]),
    );
  });

  it('should refuse a cash-in that would leave the float below its floor', async () => {
    const floatCents = balances(CHANYA.float).available;
    const put = await admin('PUT', '/admin/agents/3', {
      storeNumber: '5501',
      floatAccountNo: '000000003',
      limits: { ...DEFAULT_AGENT_LIMITS, floatFloorCents: floatCents - 50_00 },
    });
    expect(put.status).toBe(200);
    const { confirm } = await agentAsks('1', '0711000002', '100');
    expect(confirm.body).toBe('END Refused: your float is too low for this cash-in. No money was moved.');
    expect(await auditEntries('agent.limit')).toEqual(
      expect.arrayContaining([expect.objectContaining({ data: expect.objectContaining({ rule: 'float-floor' }) })]),
    );
  });
});

describe('agent registry over the admin API', () => {
  it('should refuse a float account that is not the client’s own, a taken store number, and a bad body', async () => {
    // Amina's account 000000001 is not Baraka's.
    expect((await admin('PUT', '/admin/agents/2', { storeNumber: '6001', floatAccountNo: '000000001' })).status).toBe(404);
    expect((await admin('PUT', '/admin/agents/2', { storeNumber: '5501', floatAccountNo: '000000002' })).status).toBe(409);
    expect((await admin('PUT', '/admin/agents/2', { storeNumber: '55', floatAccountNo: '000000002' })).status).toBe(400);
    expect((await admin('GET', '/admin/agents/2')).status).toBe(404);
    const made = await admin('PUT', '/admin/agents/2', { storeNumber: '6001', floatAccountNo: '000000002', status: 'suspended' });
    expect(made.status).toBe(200);
    expect(await (await admin('GET', '/admin/agents/2')).json()).toMatchObject({ storeNumber: '6001', status: 'suspended' });
    // A suspended agent gets no menu.
    const session = atSession(server, BARAKA.msisdn, AGENT_CODE);
    await session.send();
    expect((await session.send('2468')).body).toBe('END Your agent account is suspended. Please call your bank.');
    expect(await auditEntries('agent.changed')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'operator:wanjiku', clientId: 2, data: expect.objectContaining({ status: 'suspended' }) }),
      ]),
    );
  });
});

describe('agent cash-out with AGENT_CASHOUT_ID_CHECK', () => {
  let checked: TestServer;
  beforeAll(async () => {
    checked = await startTestServer({ AGENT_CASHOUT_ID_CHECK: 'true' });
  });
  afterAll(async () => {
    await checked?.close();
  });

  /** Chanya asks for a cash-out from Amina on the server with the ID check, up to the ID prompt. */
  async function upToId() {
    const session = atSession(checked, CHANYA.msisdn, AGENT_CODE);
    await session.send();
    await session.send(CHANYA.pin);
    await session.send('2');
    await session.send('0711000001');
    expect((await session.send('2000')).body).toBe("CON Amina W.'s ID number (from their ID card):");
    return session;
  }

  it("should ask for the customer's ID number and send the request only when it is one of theirs in Fineract", async () => {
    const session = await upToId();
    expect((await session.send('2345 6789')).body).toMatch(/^CON Cash-out KES 2,000\.00 for Amina W\./);
    expect((await session.send(CHANYA.pin)).body).toMatch(/^END Request sent/);
    expect(await checked.services.approvals.waitingFor(AMINA.clientId)).toHaveLength(1);
  });

  it("should refuse another customer's valid ID or an inactive document, twice, and request nothing", async () => {
    const before = (await checked.services.approvals.waitingFor(AMINA.clientId)).length;
    const session = await upToId();
    // Baraka's national ID is valid, but not Amina's.
    expect((await session.send('34567890')).body).toBe("CON That ID number is not Amina W.'s. Check the ID card and key it again:");
    expect((await session.send('A1234567')).body).toBe('END The ID number does not match this customer. No cash-out was requested.');
    expect(await checked.services.approvals.waitingFor(AMINA.clientId)).toHaveLength(before);
    const { audit } = checked.services;
    await audit.flush(5000);
    let mismatches = 0;
    for await (const record of audit.entries()) if ((record.entry as { type: string }).type === 'agent.id-mismatch') mismatches++;
    expect(mismatches).toBe(2);
  });

  it("should match only the client's active identifiers (Fineract's identifiers route)", async () => {
    const { fineract } = checked.services;
    expect(await fineract.hasIdentifier(BARAKA.clientId, '34567890')).toBe(true);
    expect(await fineract.hasIdentifier(BARAKA.clientId, 'a123-4567')).toBe(false); // inactive passport
    expect(await fineract.hasIdentifier(AMINA.clientId, '34567890')).toBe(false);
    expect(await fineract.hasIdentifier(99, '34567890')).toBe(false); // Fineract lists nothing for an unknown client
  });
});

describe('agent cash-in from a freshly swapped SIM (threat T4)', () => {
  it("should refuse the cash-in after the agent's PIN when the agent's SIM was just swapped, and move nothing", async () => {
    const swapped = await startTestServer({ SANDBOX_SIM_SWAPPED: CHANYA.msisdn });
    try {
      const bankOf = swapped.services.sandbox!.bank;
      const float = bankOf.balance(bankOf.savingsAccount(CHANYA.float)!);
      const session = atSession(swapped, CHANYA.msisdn, AGENT_CODE);
      await session.send();
      await session.send(CHANYA.pin);
      await session.send('1');
      await session.send('0711000002');
      expect((await session.send('1000')).body).toMatch(/^CON Cash-in KES 1,000\.00/);
      expect((await session.send(CHANYA.pin)).body).toMatch(/^END .*recent SIM change/);
      expect(bankOf.balance(bankOf.savingsAccount(CHANYA.float)!)).toBe(float);
    } finally {
      await swapped.close();
    }
  });
});
