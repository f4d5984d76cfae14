import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';

const AMINA = '+254711000001';
const DUMA = '+254711000004';

const savings = (s: TestServer, id: number) => s.services.sandbox!.bank.balance(s.services.sandbox!.bank.savingsAccount(id)!) / 100;

describe('pay loan and own accounts', () => {
  let server: TestServer;
  beforeAll(async () => {
    // A catalogue that shows Staff Savings on USSD too, so Amina's second account makes "Own accounts" appear.
    const catalogue = join(mkdtempSync(join(tmpdir(), 'kiunga-catalogue-')), 'catalogue.yaml');
    const shipped = readFileSync('flows/catalogue.yaml', 'utf8');
    const shown = shipped.replace(
      'channels: [] # staff welfare: branch only',
      'channels: [ussd]\n    displayName: { en: Staff Savings, sw: Akiba ya Wafanyakazi, fr: Epargne du personnel }',
    );
    if (shown === shipped) throw new Error('flows/catalogue.yaml changed: update this test');
    writeFileSync(catalogue, shown);
    server = await startTestServer({ CATALOGUE_FILE: catalogue, TRANSFER_MAX: '5000', TRANSFER_DAILY_LIMIT: '8000' });
    // Duma pays here as a customer paying their own money; the demo mandate would hold it for approval (issue 11).
    await server.services.mandates.remove('000000004');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('should show the outstanding loan and its next instalment, and pay it from savings once', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    const menu = await s.send('1234');
    expect(menu.body).toContain('4. Pay loan');
    const show = await s.send('4');
    expect(show.body).toMatch(
      /^CON Loan 000000101: KES 30,000\.00 outstanding\. Next instalment KES [\d,]+\.\d\d due \d\d\/\d\d\/\d{4}\.\n1\. Pay instalment\n2\. Other amount$/,
    );
    expect((await s.send('2')).body).toBe('CON Amount to Loan 000000101:');
    const confirm = await s.send('1000');
    expect(confirm.body).toMatch(/^CON Pay KES 1,000\.00 to Loan 000000101 from Akiba Savings 000000001\?/);
    const before = savings(server, 1);
    const done = await s.send('1234');
    expect(done.body).toMatch(/^END Done: KES 1,000\.00 to Loan 000000101 \(ref [0-9A-F]{8}\)\./);
    expect(savings(server, 1)).toBe(before - 1000);
    const loan = server.services.sandbox!.bank.loan(101)!;
    expect(loan).toBeDefined();
    const again = atSession(server, AMINA);
    await again.send();
    await again.send('1234');
    expect((await again.send('4')).body).toContain('KES 29,000.00 outstanding');
  });

  it('should refuse to pay more than is owed', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    await s.send('1234');
    await s.send('4');
    await s.send('2');
    expect((await s.send('40000')).body).toMatch(/^CON (That is more than you owe|The maximum per transaction)/);
  });

  it('should move money between own accounts, offered only when there is more than one', async () => {
    const s = atSession(server, AMINA);
    await s.send();
    const menu = await s.send('1234');
    expect(menu.body).toContain('5. Own accounts');
    expect((await s.send('5')).body).toBe('CON Move money to:\n1. Staff Savings 000000011');
    expect((await s.send('1')).body).toBe('CON Amount to Staff Savings 000000011:');
    const before = [savings(server, 1), savings(server, 11)];
    await s.send('200');
    expect((await s.send('1234')).body).toMatch(/^END Done: KES 200\.00 to Staff Savings 000000011/);
    expect([savings(server, 1), savings(server, 11)]).toEqual([before[0]! - 200, before[1]! + 200]);
  });

  it('should not offer own accounts or a loan to a customer without them', async () => {
    const s = atSession(server, '+254711000002');
    await s.send();
    const menu = await s.send('2468');
    expect(menu.body).not.toContain('Pay loan');
    expect(menu.body).not.toContain('Own accounts');
    expect((await s.send('4')).body).toMatch(/^CON Invalid choice\./);
  });

  it('should stop at the daily limit, counted across sessions', async () => {
    const first = atSession(server, DUMA);
    await first.send();
    await first.send('8642');
    await first.send('3');
    await first.send('0711000002');
    await first.send('5000');
    expect((await first.send('8642')).body).toMatch(/^END Done: KES 5,000\.00/);
    const second = atSession(server, DUMA);
    await second.send();
    await second.send('8642');
    await second.send('3');
    await second.send('0711000002');
    expect((await second.send('3500')).body).toBe('END This would go over your daily limit of KES 8,000.00. Nothing was sent.');
  });
});
