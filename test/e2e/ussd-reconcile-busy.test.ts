import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { postSavings } from '../../src/sandbox/ledger.js';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';

/**
 * Issue acceptance, end to end: a Fineract that answers `transactions/search` as a Spring page, times out
 * after committing a transfer, and then holds the transfer behind 150 newer transactions of the source
 * account (an agent's busy float). The customer gets the true outcome by SMS and the money moves once.
 */

const CHANYA = '+254711000003';
const BARAKA_ACCOUNT = 2;
const CHANYA_FLOAT = 3;
let server: TestServer;

const balance = (accountId: number) => {
  const bank = server.services.sandbox!.bank;
  return bank.balance(bank.savingsAccount(accountId)!) / 100;
};

beforeAll(async () => {
  server = await startTestServer({ FINERACT_TIMEOUT_MS: '500', HOP_DEADLINE_MS: '1500' });
});
afterAll(async () => {
  await server?.close();
});

describe('reconciling a timed-out transfer from a busy float', () => {
  it('should tell the true outcome by SMS and move the money once when 150 newer transactions hide the transfer', async () => {
    const { sandbox } = server.services;
    const before = [balance(CHANYA_FLOAT), balance(BARAKA_ACCOUNT)];
    const s = atSession(server, CHANYA);
    await s.send();
    await s.send('1357');
    await s.send('3');
    await s.send('0711000002');
    expect((await s.send('500')).body).toContain('KES 500.00');
    sandbox!.control.timeoutAfterCommit = { count: 1, mode: 'delay', ms: 3000 };
    const reply = await s.send('1357');
    expect(reply.body).toMatch(/is being processed \(ref [0-9A-F]{8}\)\. An SMS will confirm the result\.$/);

    // The agent keeps serving the queue: 150 cash-outs of 1.00 land on the float after the transfer.
    const bank = sandbox!.bank;
    const float = bank.savingsAccount(CHANYA_FLOAT)!;
    for (let i = 0; i < 150; i++) postSavings(bank, float, 2, bank.businessDate, 100);

    const sent = () => server.services.outbox!.list(CHANYA).filter((m) => m.text.startsWith('You sent'));
    for (let i = 0; i < 150 && sent().length === 0; i++) await sleep(100);
    await server.services.queue.idle();
    expect(sent()).toHaveLength(1);
    expect(sent()[0]!.text).toMatch(/^You sent KES 500\.00 to Baraka O\./);

    // Found by paging back through the Spring page (offset is a page index), never sent a second time.
    const searches = sandbox!.control.requests.filter((r) => r.path.endsWith('/transactions/search'));
    expect(searches.some((r) => new URLSearchParams(r.query).get('offset') === '1')).toBe(true);
    const posts = sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers'));
    expect(posts.filter((r) => r.committed)).toHaveLength(1);
    expect(balance(BARAKA_ACCOUNT)).toBe(before[1]! + 500);
    expect(balance(CHANYA_FLOAT)).toBe(before[0]! - 500 - 150);
  });
});
