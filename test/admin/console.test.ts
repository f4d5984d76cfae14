import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Dialog, Page } from 'playwright-core';
import { buildAdminApp } from '../../src/app.js';
import { launchChromium, type TestBrowser } from '../helpers/browser.js';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The operator console (`/admin/console`) driven in real headless Chromium, as test/simulator does: sign in
 * with an operator's token, switch `money` off and see a USSD transfer refused over HTTP, switch it back on
 * and see the transfer go through, enrol a number, unlock a customer, page and verify the audit trail. A
 * missing browser fails this suite: it is never skipped.
 */
const TOKEN = 'console-test-token-amani-0123456789';
const SECOND = 'console-test-token-baraka-0123456789';
const en = JSON.parse(readFileSync(new URL('../../locales/en.json', import.meta.url), 'utf8')) as { maintenance: { money: string } };

let server: TestServer;
let browser: TestBrowser | undefined;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];
/** Every request the page made: where, and with which Authorization header. */
const requests: { url: string; authorization?: string }[] = [];
/** What the next confirm() and prompt() dialogs answer (a prompt's text, or null to cancel). */
const dialogs: { kind: 'confirm' | 'prompt'; answer: string | boolean | null; message?: string }[] = [];

beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKENS: `amani:${TOKEN}` });
  browser = await launchChromium('kiunga-console-');
  context = browser.context;
  page = await context.newPage();
  page.on('console', (m) => {
    // The refusals this suite provokes on purpose (a wrong token, an enrolment of a customer with a PIN) are
    // logged by the browser as failed loads; anything else is a problem.
    if (m.type() === 'error' && !/the server responded with a status of (401|409)\b/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers()['authorization'] }));
  page.on('dialog', async (dialog: Dialog) => {
    const next = dialogs.shift();
    if (!next || next.kind !== dialog.type()) {
      problems.push(`unexpected ${dialog.type()} dialog: ${dialog.message()}`);
      await dialog.dismiss();
      return;
    }
    next.message = dialog.message();
    if (next.answer === null || next.answer === false) await dialog.dismiss();
    else await dialog.accept(typeof next.answer === 'string' ? next.answer : undefined);
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The console's row of a switch scope. */
const switchRow = (scope: string) => page.locator('#switches tr', { has: page.locator('td', { hasText: new RegExp(`^${scope}$`) }) });

/** Signs `tab` in with `token` and waits for the console. */
async function signIn(tab: Page, token: string, operator: string): Promise<void> {
  await tab.fill('#token', token);
  await tab.click('#signin-form button');
  await tab.locator('#who', { hasText: `Signed in as ${operator}` }).waitFor();
}

/** Amina sends KES 100 to Baraka over USSD (real HTTP); the last screen. */
async function sendMoney(): Promise<string> {
  const s = atSession(server, '+254711000001');
  let body = '';
  for (const input of [undefined, '1234', '3', '0711000002', '100', '1234']) {
    body = (await s.send(input)).body;
    if (body.startsWith('END')) break;
  }
  return body;
}

describe('/admin/console in headless Chromium', () => {
  it('should serve a page that allows only its own script and style, no framing and no caching', async () => {
    const res = await fetch(`${server.url}/admin/console`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'sha256-[^']+'(;|$)/);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).not.toContain(TOKEN);
    // The page is public; its numbers are not.
    expect((await fetch(`${server.url}/admin/summary`)).status).toBe(401);
  });

  it('should give the same key numbers on a separate admin listener as /metrics on the public one', async () => {
    await atSession(server, '+254711000003').send();
    const admin = buildAdminApp(server.services).listen(0, '127.0.0.1');
    await once(admin, 'listening');
    try {
      const url = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
      const res = await fetch(`${url}/admin/summary`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      const { operator, numbers } = (await res.json()) as { operator: string; numbers: { key: string; value: number | null }[] };
      expect(operator).toBe('amani');
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const hops = [...metrics.matchAll(/^kiunga_hops_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect(hops).toBeGreaterThan(0);
      expect(numbers.find((n) => n.key === 'hops')?.value).toBe(hops);
    } finally {
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
    }
  });

  it('should refuse a wrong token, then sign in with the right one kept in this tab only', async () => {
    const response = await page.goto(`${server.url}/admin/console`);
    expect(response?.status()).toBe(200);
    await page.fill('#token', 'not-the-token-at-all-0000');
    await page.click('#signin-form button');
    await page.locator('#signin-status', { hasText: 'refused' }).waitFor();
    expect(await page.isVisible('#console')).toBe(false);

    await page.fill('#token', TOKEN);
    await page.click('#signin-form button');
    await page.locator('#who', { hasText: 'Signed in as amani' }).waitFor();
    await page.locator('#summary td', { hasText: 'Hops answered' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('kiunga.adminToken'))).toBe(TOKEN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await context.cookies()).toEqual([]);
    expect(await page.inputValue('#token')).toBe('');
    // The token travels in the Authorization header of the API calls, never in an address.
    expect(requests.some((r) => r.url.includes('/admin/switches') && r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(requests.filter((r) => r.url.includes(TOKEN))).toEqual([]);
  });

  it('should switch money off after a confirmation and a reason, refuse a USSD transfer, and switch it back on', async () => {
    await switchRow('money').locator('td', { hasText: /^on$/ }).waitFor();
    dialogs.push({ kind: 'confirm', answer: true }, { kind: 'prompt', answer: 'Fineract upgrade' });
    await switchRow('money').locator('button', { hasText: 'Switch off' }).click();
    await switchRow('money').locator('td', { hasText: /^off$/ }).waitFor();
    expect(await switchRow('money').textContent()).toContain('Fineract upgrade');
    expect(await switchRow('money').textContent()).toContain('amani');

    const refused = await sendMoney();
    expect(refused).toBe(`END ${en.maintenance.money}`);

    // Cancelling the confirmation changes nothing.
    dialogs.push({ kind: 'confirm', answer: false });
    await switchRow('money').locator('button', { hasText: 'Switch on' }).click();
    await expect.poll(() => dialogs.length).toBe(0);
    expect(await switchRow('money').locator('td', { hasText: /^off$/ }).count()).toBe(1);

    dialogs.push({ kind: 'confirm', answer: true }, { kind: 'prompt', answer: 'upgrade done' });
    await switchRow('money').locator('button', { hasText: 'Switch on' }).click();
    await switchRow('money').locator('td', { hasText: /^on$/ }).waitFor();

    const sent = await sendMoney();
    expect(sent).toMatch(/^END Done: KES 100\.00 to Baraka O\./);
  });

  it('should write what the API returns as text, never as markup', async () => {
    const reason = '<img src=x id=injected onerror="document.title=1">';
    dialogs.push({ kind: 'confirm', answer: true }, { kind: 'prompt', answer: reason });
    await switchRow('channel:voice').locator('button', { hasText: 'Switch off' }).click();
    await switchRow('channel:voice').locator('td', { hasText: /^off$/ }).waitFor();
    expect(await switchRow('channel:voice').textContent()).toContain(reason);
    expect(await page.locator('#injected').count()).toBe(0);
    dialogs.push({ kind: 'confirm', answer: true }, { kind: 'prompt', answer: 'test over' });
    await switchRow('channel:voice').locator('button', { hasText: 'Switch on' }).click();
    await switchRow('channel:voice').locator('td', { hasText: /^on$/ }).waitFor();
  });

  it('should enrol a customer who has no PIN yet', async () => {
    await page.fill('#enrol-phone', '+255711000009');
    await page.click('#enrol-form button');
    await page.locator('#enrol-status', { hasText: 'Client 7: code-sent' }).waitFor();
    expect(await page.inputValue('#enrol-phone')).toBe('');
  });

  it('should enrol a number: refused while the customer has a PIN, code sent with a reset', async () => {
    await page.fill('#enrol-phone', '+254711000002');
    await page.click('#enrol-form button');
    await page.locator('#enrol-status', { hasText: 'already has a PIN' }).waitFor();

    await page.fill('#enrol-phone', '+254711000002');
    await page.check('#enrol-reset');
    dialogs.push({ kind: 'confirm', answer: true });
    await page.click('#enrol-form button');
    await page.locator('#enrol-status', { hasText: 'Client 2: code-sent' }).waitFor();
    // The activation code went to the customer by SMS, and never to the console.
    const outbox = (await (await fetch(`${server.url}/sandbox/outbox?to=%2B254711000002`)).json()) as { text: string }[];
    const code = outbox.map((m) => /\b(\d{6})\b/.exec(m.text)?.[1]).find(Boolean);
    expect(code).toBeDefined();
    expect(await page.textContent('body')).not.toContain(code!);
  });

  it('should list a locked customer and unlock them after a confirmation', async () => {
    const s = atSession(server, '+254711000004');
    await s.send();
    for (const pin of ['0000', '0001', '0002']) await s.send(pin);
    await page.click('#refresh');
    const row = page.locator('#locked tr', { has: page.locator('td', { hasText: /^4$/ }) });
    await row.waitFor();
    dialogs.push({ kind: 'confirm', answer: true });
    await row.locator('button', { hasText: 'Unlock' }).click();
    await page.locator('#locked-status', { hasText: 'Client 4 unlocked.' }).waitFor();
    await page.locator('#locked td', { hasText: 'Nobody is locked out.' }).waitFor();
    expect((await server.services.pins.status(4)).locked).toBe(false);
  });

  it('should list a pending approval and cancel it after a confirmation (its hold released)', async () => {
    const { mandates, approvals, sandbox } = server.services;
    const held = () => sandbox!.bank.savingsAccount(4)!.savingsAmountOnHold;
    const before = held();
    const record = await mandates.requestPayment(approvals, (await mandates.get('000000004'))!, await mandates.party(1), {
      id: 'x',
      ref: 'x',
      kind: 'send',
      msisdn: '+254711000001',
      lang: 'en',
      from: { clientId: 4, officeId: 1, accountId: 4 },
      to: { clientId: 2, officeId: 1, accountId: 2, type: 'savings' },
      amountCents: 700_00,
      currency: 'KES',
      counterparty: 'Baraka O.',
    });
    expect(held()).toBe(before + 700_00);
    await page.click('#refresh');
    const row = page.locator('#approvals tr', { has: page.locator('td', { hasText: record.ref }) });
    await row.waitFor();
    expect(await row.textContent()).toContain('KES 700.00');
    dialogs.push({ kind: 'confirm', answer: true });
    await row.locator('button', { hasText: 'Cancel' }).click();
    await page.locator('#approvals-status', { hasText: `Approval ${record.ref} cancelled.` }).waitFor();
    await page.locator('#approvals td', { hasText: 'No approval is pending.' }).waitFor();
    expect((await approvals.get(record.id))!.state).toBe('cancelled');
    expect(held()).toBe(before);
  });

  it('should list loan applications waiting for review with their checks, approve one and reject another with a reason', async () => {
    const { profiles, applications, productCatalogue } = server.services;
    const shown = productCatalogue!.loanProduct(1, 'ussd', 'en')!;
    const terms = {
      productId: 1,
      productName: shown.displayName,
      minCents: shown.minAmountMinor,
      maxCents: shown.maxAmountMinor,
      repayments: shown.repayments,
      currency: shown.currency,
    };
    const applicant = async (msisdn: string, nationalId: string) => {
      const p = await profiles.start(msisdn);
      await profiles.setName(p.id, 'Test Applicant');
      await profiles.setNationalId(p.id, nationalId);
      await profiles.setBirthDate(p.id, '01011990');
      await profiles.setLanguage(p.id, 'en');
      await profiles.consent(p.id, 'ussd');
      const profile = await profiles.pinSet(p.id, 'ussd');
      const quote = await applications.quote(terms, 1_000_000, 6);
      return applications.apply({ msisdn, lang: 'en', channel: 'ussd', profile, terms, principalCents: 1_000_000, repayments: 6, quote });
    };
    const first = await applicant('+254711000091', '4567890');
    const second = await applicant('+254711000092', '5678901');
    await page.click('#refresh');
    const row = (ref: string) => page.locator('#applications tr', { has: page.locator('td', { hasText: ref }) });
    await row(first.ref).waitFor();
    expect(await row(first.ref).textContent()).toContain('KES 10000.00');
    expect(await row(first.ref).textContent()).toContain('catalogue-limits ok');
    dialogs.push({ kind: 'confirm', answer: true });
    await row(first.ref).locator('button', { hasText: 'Approve' }).click();
    await page.locator('#applications-status', { hasText: `Application ${first.ref} approved.` }).waitFor();
    expect((await applications.get(first.id))!.state).toBe('in-core');
    dialogs.push({ kind: 'prompt', answer: 'income not shown' });
    await row(second.ref).locator('button', { hasText: 'Reject' }).click();
    await page.locator('#applications-status', { hasText: `Application ${second.ref} rejected.` }).waitFor();
    expect((await applications.get(second.id))!).toMatchObject({ state: 'rejected', reason: 'income not shown', reviewedBy: 'amani' });
  });

  it('should show uncertain transfers, sessions and the key numbers', async () => {
    await page.click('#refresh');
    await page.locator('#transfers td', { hasText: 'No transfer is uncertain.' }).waitFor();
    await page.locator('#sessions td', { hasText: 'ussd' }).waitFor();
    const hops = page.locator('#summary tr', { has: page.locator('td', { hasText: 'Hops answered' }) });
    expect(Number(await hops.locator('td').nth(1).textContent())).toBeGreaterThan(10);
    const lockouts = page.locator('#summary tr', { has: page.locator('td', { hasText: 'PIN lockouts' }) });
    expect(await lockouts.locator('td').nth(1).textContent()).toBe('1');
  });

  it('should page the audit trail and show that the chain verifies', async () => {
    await page.click('#audit-first');
    await page.locator('#audit td', { hasText: 'admin.call' }).first().waitFor();
    expect(await page.textContent('#audit')).toContain('operator:amani');
    // Oldest first, 20 a page, to the last page.
    const seen: string[] = [];
    for (let n = 1; n <= 50; n++) {
      await page.locator('#audit-page', { hasText: `page ${n}` }).waitFor();
      const text = (await page.textContent('#audit')) ?? '';
      expect(seen).not.toContain(text);
      seen.push(text);
      if (await page.isDisabled('#audit-next')) break;
      await page.click('#audit-next');
    }
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.join('')).toContain('switch.changed');
    expect(seen.join('')).toContain('Fineract upgrade');
    expect(seen.join('')).not.toContain('254711000002');
    await page.click('#audit-verify');
    await page.locator('#audit-verify-result', { hasText: 'Chain intact' }).waitFor();
  });

  it('should ask a second operator, in another tab, to switch money back on under ADMIN_FOUR_EYES', async () => {
    const twoOperators = await startTestServer({ ADMIN_TOKENS: `amani:${TOKEN},baraka:${SECOND}`, ADMIN_FOUR_EYES: 'true' });
    const second = await context.newPage();
    try {
      // Each tab keeps its own token (sessionStorage is per tab).
      await page.goto(`${twoOperators.url}/admin/console`);
      await signIn(page, TOKEN, 'amani');
      await second.goto(`${twoOperators.url}/admin/console`);
      await signIn(second, SECOND, 'baraka');
      expect(await page.evaluate(() => sessionStorage.getItem('kiunga.adminToken'))).toBe(TOKEN);

      dialogs.push({ kind: 'confirm', answer: true }, { kind: 'prompt', answer: 'Fineract upgrade' });
      await switchRow('money').locator('button', { hasText: 'Switch off' }).click();
      await switchRow('money').locator('td', { hasText: /^off$/ }).waitFor();
      dialogs.push({ kind: 'confirm', answer: true }, { kind: 'prompt', answer: 'upgrade done' });
      await switchRow('money').locator('button', { hasText: 'Switch on' }).click();
      await page.locator('#switch-status', { hasText: 'waiting for a second operator' }).waitFor();
      await switchRow('money').locator('td', { hasText: 'on requested by amani' }).waitFor();

      const row = second.locator('#switches tr', { has: second.locator('td', { hasText: /^money$/ }) });
      await second.click('#refresh');
      await row.locator('td', { hasText: 'on requested by amani' }).waitFor();
      second.on('dialog', (dialog) => void (dialog.type() === 'prompt' ? dialog.accept('checked the upgrade') : dialog.accept()));
      await row.locator('button', { hasText: 'Switch on' }).click();
      await row.locator('td', { hasText: /^on$/ }).waitFor();
      expect(await row.textContent()).toContain('baraka');
    } finally {
      await second.close();
      await twoOperators.close();
    }
  });

  it('should sign out, forgetting the token', async () => {
    await page.click('#signout');
    expect(await page.isVisible('#signin')).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('kiunga.adminToken'))).toBeNull();
    expect(problems).toEqual([]);
  });
});
