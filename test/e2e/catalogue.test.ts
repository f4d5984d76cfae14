import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';
import { atSms, outboxOf } from '../sms/helpers.js';
import { call, savingsTxnBody } from '../sandbox/api.js';
import { CatalogueError } from '../../src/engine/catalogue.js';

/**
 * Issue 12: a product the catalogue hides (Asset Finance, Staff Savings in the demo data) never appears on any
 * channel. The product-id settings are set to "every product" here, so the catalogue is the only filter; a
 * second server without a catalogue shows what the customers would otherwise see.
 */

const AMINA = '+254711000001'; // PIN 1234: Akiba Savings 000000001, Staff Savings 000000011 (hidden), Biashara loan 101
const DUMA = '+254711000004'; // PIN 8642: Asset Finance loan 000000103 (hidden)
const SECRET = 'hook-secret-catalogue-0123456789';
const EVERY_PRODUCT = { FINERACT_SAVINGS_PRODUCTS: '', FINERACT_LOAN_PRODUCTS: '', SMS_PIN_ENABLED: 'true', FINERACT_HOOK_SECRET: SECRET };
const HIDDEN = /000000011|000000103|Staff|Asset Finance/;

let server: TestServer;
let uncatalogued: TestServer;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiunga-catalogue-e2e-'));
  // The shipped flows without their catalogue: the product-id settings decide, as before the catalogue.
  const flows = join(dir, 'flows');
  await cp('flows', flows, { recursive: true });
  await rm(join(flows, 'catalogue.yaml'));
  [server, uncatalogued] = await Promise.all([startTestServer(EVERY_PRODUCT), startTestServer({ ...EVERY_PRODUCT, FLOWS_DIR: flows })]);
});
afterAll(async () => {
  await Promise.all([server?.close(), uncatalogued?.close()]);
  await rm(dir, { recursive: true, force: true });
});

async function menu(s: TestServer, msisdn: string, pin: string) {
  const session = atSession(s, msisdn);
  await session.send();
  return { session, menu: (await session.send(pin)).body };
}

describe('hidden products on USSD', () => {
  it('should never show Staff Savings in the balance, the mini statement or the send-money choices', async () => {
    const balance = await menu(server, AMINA, '1234');
    expect(balance.menu).toMatch(/^CON Main menu/);
    const balances = (await balance.session.send('1')).body;
    expect(balances).toBe('END Balance\nAkiba Savings 000000001: KES 12,500.00');

    const statement = await menu(server, AMINA, '1234');
    const mini = (await statement.session.send('2')).body;
    expect(mini).toMatch(/^END Mini statement 000000001\n/);

    const send = await menu(server, AMINA, '1234');
    const choices = (await send.session.send('3')).body;
    expect(`${balance.menu}\n${mini}\n${choices}`).not.toMatch(HIDDEN);

    // Without the catalogue the same customer sees the staff account.
    const control = await menu(uncatalogued, AMINA, '1234');
    expect((await control.session.send('1')).body).toContain('000000011');
  });

  it('should never offer to repay an Asset Finance loan, nor show it', async () => {
    const duma = await menu(server, DUMA, '8642');
    expect(duma.menu).toMatch(/^CON Main menu/);
    expect(duma.menu).not.toContain('Pay loan');
    expect(duma.menu).not.toMatch(HIDDEN);
    const control = await menu(uncatalogued, DUMA, '8642');
    expect(control.menu).toContain('Pay loan');
  });
});

describe('hidden products by SMS', () => {
  it('should answer BAL without Staff Savings', async () => {
    await atSms(server, AMINA, 'BAL 1234');
    expect((await outboxOf(server, AMINA)).at(-1)?.text).toBe('Balance\nAkiba Savings 000000001: KES 12,500.00');
    await atSms(uncatalogued, AMINA, 'BAL 1234');
    expect((await outboxOf(uncatalogued, AMINA)).at(-1)?.text).toContain('000000011');
  });

  it('should send no deposit alert for a Staff Savings account, and one for Akiba Savings', async () => {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Africa/Nairobi' }).format(new Date());
    const sandbox = server.services.sandbox!;
    const registered = await call(sandbox, '/hooks', {
      body: {
        name: 'Web',
        displayName: 'kiunga-catalogue',
        isActive: true,
        events: [{ entityName: 'SAVINGSACCOUNT', actionName: 'DEPOSIT' }],
        config: { 'Payload URL': `${server.url}/hooks/fineract/${SECRET}/`, 'Content Type': 'json' },
      },
    });
    expect(registered.status).toBe(200);
    const before = (await outboxOf(server, AMINA)).length;
    for (const accountId of [11, 1]) {
      const res = await call(sandbox, `/savingsaccounts/${accountId}/transactions?command=deposit`, {
        body: savingsTxnBody({ transactionDate: today, transactionAmount: 100 }),
      });
      expect(res.status).toBe(200);
    }
    await sandbox.hooks.idle();
    expect(sandbox.hooks.deliveries.map((d) => d.status)).toEqual([200, 200]);
    const alerts = (await outboxOf(server, AMINA)).slice(before).map((m) => m.text);
    expect(alerts).toEqual([expect.stringMatching(/^Deposit of KES 100\.00 to 000000001\./)]);
    expect(server.logs.text).toContain('account of a product not shown on channels: no alert');
  });
});

describe('the catalogue at start-up', () => {
  it("should refuse to start when a shown product's range lies outside Fineract's own", async () => {
    const shipped = await readFile('flows/catalogue.yaml', 'utf8');
    const file = join(dir, 'wide.yaml');
    await writeFile(file, shipped.replace('amount: { min: 5000, max: 50000 }', 'amount: { min: 5000, max: 90000 }'));
    const started = startTestServer({ CATALOGUE_FILE: file });
    await expect(started).rejects.toBeInstanceOf(CatalogueError);
    await expect(started).rejects.toThrow(
      /wide\.yaml:\d+ error loanProducts\.0\.amount\.max: amount max 90000\.00 is above the product's own range/,
    );
  });

  it('should refuse to start with a broken catalogue file, naming its line', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(
      file,
      "termsVersion: '1'\ncurrency: { code: KES, decimalPlaces: 2 }\nloanProducts:\n  - id: 1\n    name: Biashara Loan\n    channels: [ussd]\n",
    );
    await expect(startTestServer({ CATALOGUE_FILE: file })).rejects.toThrow(/broken\.yaml:4 error loanProducts\.0\.displayName/);
  });

  it('should refuse to start when CATALOGUE_FILE names a file that does not exist, instead of showing every product', async () => {
    await expect(startTestServer({ CATALOGUE_FILE: join(dir, 'typo.yaml') })).rejects.toThrow(
      /CATALOGUE_FILE names .*typo\.yaml, which does not exist/,
    );
  });
});
