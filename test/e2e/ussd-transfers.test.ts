import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';

const AMINA = '+254711000001';
const BARAKA = '+254711000002';
let server: TestServer;

/** Balance of a sandbox savings account, in major units. */
const balance = (s: TestServer, accountId: number) => {
  const bank = s.services.sandbox!.bank;
  return bank.balance(bank.savingsAccount(accountId)!) / 100;
};
const committedTransfers = (s: TestServer) =>
  s.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers') && r.committed).length;

/** Dial, PIN, Send money, recipient, amount: the session rests on the PIN confirmation. */
async function toConfirmation(s: TestServer, recipient: string, amount: string) {
  const session = atSession(s, AMINA);
  await session.send();
  await session.send('1234');
  expect((await session.send('3')).body).toBe("CON Enter the recipient's phone number:");
  expect((await session.send(recipient)).body).toBe('CON Amount to Baraka O.:');
  const confirm = await session.send(amount);
  return { session, confirm };
}

beforeAll(async () => {
  server = await startTestServer({ TRANSFER_MAX: '5000', TRANSFER_DAILY_LIMIT: '8000' });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.services.sandbox!.control.reset();
});

describe('sending money over USSD', () => {
  it('should move 500 from Amina to Baraka once, show the receipt and send SMS receipts, all with one reference', async () => {
    const before = [balance(server, 1), balance(server, 2)];
    const { session, confirm } = await toConfirmation(server, '0711000002', '500');
    expect(confirm.body).toBe('CON Pay KES 500.00 to Baraka O. from Akiba Savings 000000001? Enter PIN to confirm:');
    const done = await session.send('1234');
    const ref = /^END Done: KES 500\.00 to Baraka O\. \(ref ([0-9A-F]{8})\)\. An SMS receipt will follow\.$/.exec(done.body)?.[1];
    expect(ref, done.body).toBeDefined();
    expect([balance(server, 1), balance(server, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
    // Kiunga's reference is the one Fineract stores with the transfer (both legs show its description)...
    expect(server.services.sandbox!.bank.data.transfers.at(-1)?.description).toBe(`Kiunga send ${ref}`);
    await server.services.queue.idle();
    // ...and the one both receipts name: no other id.
    expect(server.services.outbox!.list(AMINA).at(-1)?.text).toBe(`You sent KES 500.00 to Baraka O. (ref ${ref}).`);
    expect(server.services.outbox!.list(BARAKA).at(-1)?.text).toBe(`You received KES 500.00 from Amina W. (ref ${ref}).`);
  });

  it('should accept the recipient as 711000002 and +254711000002 too', async () => {
    for (const number of ['711000002', '+254711000002']) {
      const { confirm } = await toConfirmation(server, number, '20');
      expect(confirm.body).toMatch(/^CON Pay KES 20\.00 to Baraka O\./);
    }
  });

  it('should move money once when the confirming hop arrives five times at once', async () => {
    const before = [balance(server, 1), balance(server, 2)];
    const commits = committedTransfers(server);
    const { session } = await toConfirmation(server, '0711000002', '100');
    const replies = await Promise.all(Array.from({ length: 5 }, () => session.send('1234').then((r) => r)));
    // Five sends of the same text: the first runs, the other four are the same hop again.
    const texts = new Set(replies.map((r) => r.body));
    expect(texts.size).toBe(1);
    expect([...texts][0]).toMatch(/^END Done: KES 100\.00/);
    expect([balance(server, 1), balance(server, 2)]).toEqual([before[0]! - 100, before[1]! + 100]);
    expect(committedTransfers(server) - commits).toBe(1);
  });

  it('should move money once when Fineract times out after committing, and tell the truth by SMS', async () => {
    const tight = await startTestServer({ FINERACT_TIMEOUT_MS: '500', HOP_DEADLINE_MS: '1500' });
    try {
      const before = [balance(tight, 1), balance(tight, 2)];
      const s = atSession(tight, AMINA);
      await s.send();
      await s.send('1234');
      await s.send('3');
      await s.send('0711000002');
      await s.send('500');
      tight.services.sandbox!.control.timeoutAfterCommit = { count: 1, mode: 'delay', ms: 3000 };
      const reply = await s.send('1234');
      expect(reply.body).toMatch(
        /^END Your payment of KES 500\.00 to Baraka O\. is being processed \(ref [0-9A-F]{8}\)\. An SMS will confirm the result\.$/,
      );
      // The money moved exactly once, although Kiunga never saw the answer.
      expect([balance(tight, 1), balance(tight, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
      // The background resolution finds the transfer and confirms it by SMS, without moving money again.
      for (let i = 0; i < 100 && !tight.services.outbox!.list(AMINA).some((m) => m.text.startsWith('You sent')); i++) await sleep(100);
      expect(tight.services.outbox!.list(AMINA).at(-1)?.text).toMatch(/^You sent KES 500\.00 to Baraka O\./);
      await tight.services.queue.idle();
      expect([balance(tight, 1), balance(tight, 2)]).toEqual([before[0]! - 500, before[1]! + 500]);
      expect(committedTransfers(tight)).toBe(1);
    } finally {
      await tight.close();
    }
  });
});

describe('refusing transfers clearly, moving nothing', () => {
  it('should refuse more than the available balance before asking for the PIN', async () => {
    const session = atSession(server, BARAKA);
    await session.send();
    await session.send('2468');
    await session.send('3');
    await session.send('0711000001');
    const before = balance(server, 2);
    const reply = await session.send('4900');
    expect(reply.body).toMatch(/^END Insufficient funds\. Your available balance is KES [\d,]+\.00\. Nothing was sent\.$/);
    expect(balance(server, 2)).toBe(before);
  });

  it("should refuse with Fineract's insufficient-funds answer when the balance drops before the PIN", async () => {
    const session = atSession(server, BARAKA);
    await session.send();
    await session.send('2468');
    await session.send('3');
    await session.send('0711000001');
    await session.send('1000');
    // Money leaves the account elsewhere between the amount check and the confirmation.
    const bank = server.services.sandbox!.bank;
    const account = bank.savingsAccount(2)!;
    const drained = bank.balance(account);
    account.transactions.push({ ...account.transactions[0]!, id: 99_999, typeId: 2, amount: drained - 50_00, reversed: false });
    bank.recomputeRunningBalances(account);
    const reply = await session.send('2468');
    expect(reply.body).toBe('END Insufficient funds. No money was moved.');
    expect(bank.balance(account)).toBe(50_00);
  });

  it('should refuse an amount over the per-transaction maximum and let the customer try again', async () => {
    const { session, confirm } = await toConfirmation(server, '0711000002', '6000');
    expect(confirm.body).toBe('CON The maximum per transaction is KES 5,000.00. Enter amount:');
    expect((await session.send('50')).body).toMatch(/^CON Pay KES 50\.00 to Baraka O\./);
  });

  it('should refuse amounts below the minimum and malformed amounts', async () => {
    const { session, confirm } = await toConfirmation(server, '0711000002', '5');
    expect(confirm.body).toBe('CON The minimum is KES 10.00. Enter amount:');
    for (const bad of ['abc', '12.345', '-5', '1e3', '10,5']) {
      expect((await session.send(bad)).body).toBe('CON Invalid input.\nThe minimum is KES 10.00. Enter amount:');
    }
  });

  it('should refuse an unknown recipient and sending to oneself', async () => {
    const session = atSession(server, AMINA);
    await session.send();
    await session.send('1234');
    await session.send('3');
    expect((await session.send('0711000009')).body).toBe('CON That number is not registered for mobile banking. Enter another number:');
    expect((await session.send('0711000001')).body).toBe('CON You cannot send money to yourself. Enter another number:');
  });
});

describe('a recent SIM swap (threat T4)', () => {
  it('should refuse to move money from a number whose SIM just changed, even with the right PIN', async () => {
    const swapped = await startTestServer({ SANDBOX_SIM_SWAPPED: AMINA });
    try {
      const before = [balance(swapped, 1), balance(swapped, 2)];
      const commits = committedTransfers(swapped);
      const { session } = await toConfirmation(swapped, '0711000002', '500');
      const reply = await session.send('1234');
      expect(reply.body).toBe(
        'END For your security, transfers are paused after a recent SIM change. No money was moved. Please visit a branch with your ID.',
      );
      expect([balance(swapped, 1), balance(swapped, 2)]).toEqual(before);
      expect(committedTransfers(swapped)).toBe(commits);
      // Reading stays possible.
      const read = atSession(swapped, AMINA);
      await read.send();
      await read.send('1234');
      expect((await read.send('1')).body).toMatch(/^END Balance/);
    } finally {
      await swapped.close();
    }
  });
});
