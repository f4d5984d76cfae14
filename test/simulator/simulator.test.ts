import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { buildApp } from '../../src/app.js';
import { launchChromium, type TestBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The browser phone, driven in real headless Chromium (Debian's `chromium`; .ci/run installs it). A missing
 * browser fails this suite: it is never skipped.
 */

let server: TestServer;
let browser: TestBrowser | undefined;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ REDIS_URL: '', SMS_PIN_ENABLED: 'true' });
  browser = await launchChromium('kiunga-chromium-');
  context = browser.context;
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const screen = (text: string) => page.locator('#text', { hasText: text }).waitFor({ timeout: 10_000 });
const press = async (keys: string) => {
  for (const k of keys) await page.click(`.keypad [data-key="${k}"]`);
};
const send = () => page.click('#call');

describe('/simulator in headless Chromium', () => {
  it('should dial, take the PIN from the keypad and show the balance', async () => {
    const response = await page.goto(`${server.url}/simulator`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'sha256-/);
    await page.locator('#mode', { hasText: 'sandbox' }).waitFor();
    await send();
    await screen('Welcome Amina. Enter your PIN:');
    expect(await page.textContent('#state')).toBe('CON');
    await press('1234');
    expect(await page.textContent('#entry')).toBe('1234');
    await send();
    await screen('Main menu');
    expect(await page.textContent('#size')).toMatch(/^\d+\/182 GSM-7$/);
    await press('1');
    await send();
    await screen('Akiba Savings 000000001: KES 12,500.00');
    expect(await page.textContent('#state')).toBe('END');
    expect(await page.locator('#log li').count()).toBe(3);
  });

  it('should ask for a call-back by USSD, ring, answer and follow the spoken menu by keypad', async () => {
    await page.click('#end');
    await send();
    await screen('Welcome Amina');
    await press('1234');
    await send();
    await screen('Main menu');
    await press('8');
    await send();
    await screen('We will call you in a moment.');
    await page.locator('#call-status', { hasText: 'Incoming call' }).waitFor({ timeout: 15_000 });
    await page.click('#call-answer');
    const spoken = (text: string) => page.locator('#spoken li', { hasText: text }).waitFor({ timeout: 10_000 });
    await spoken('Welcome Amina. Enter your PIN: Then press the hash key.');
    for (const k of '1234') await page.click(`.dtmf [data-dtmf="${k}"]`);
    // The keys pressed are masked, never shown back.
    expect(await page.textContent('#dtmf-entry')).toBe('••••');
    await page.click('.dtmf [data-dtmf="#"]');
    await spoken('Main menu For Balance, press 1.');
    await page.click('.dtmf [data-dtmf="1"]');
    await spoken('12,500.00');
    expect(await page.textContent('#spoken')).not.toContain('1234');
    await page.locator('#call-status', { hasText: 'Call ended' }).waitFor({ timeout: 10_000 });
    expect(await page.isHidden('#call-keypad')).toBe(true);
  });

  it('should send money with the keyboard, and show the SMS receipt in the inbox', async () => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    await screen('Welcome Amina');
    const type = async (text: string, expected: string) => {
      await page.keyboard.type(text);
      await page.keyboard.press('Enter');
      await screen(expected);
    };
    await type('1234', 'Main menu');
    await type('3', "Enter the recipient's phone number:");
    await type('0711000002', 'Amount to Baraka O.');
    await type('100', 'Pay KES 100.00 to Baraka O.');
    await type('1234', 'Done: KES 100.00 to Baraka O.');
    await page.locator('#inbox li', { hasText: 'You sent KES 100.00 to' }).waitFor({ timeout: 10_000 });
  });

  it('should send an SMS keyword and show the reply in the inbox', async () => {
    await page.fill('#sms-text', 'BAL 1234');
    await page.click('#sms-send');
    await page.locator('#sms-status', { hasText: 'Sent' }).waitFor({ timeout: 10_000 });
    await page.locator('#inbox li', { hasText: /Akiba Savings 000000001: KES 12,400\.00/ }).waitFor({ timeout: 10_000 });
    expect(await page.inputValue('#sms-text')).toBe('');
  });

  it('should list the sandbox demo customers, and switch number on a click', async () => {
    await page.click('table.demo tr:has-text("Baraka Otieno")');
    expect(await page.inputValue('#msisdn')).toBe('+254711000002');
    await send();
    await screen('Welcome Baraka');
  });

  it('should have run without a console error or a blocked script', () => {
    expect(problems).toEqual([]);
  });
});

describe('/simulator outside sandbox and development mode', () => {
  it('should not be served', async () => {
    const app = buildApp({ ...server.services, simulator: undefined });
    const http = app.listen(0, '127.0.0.1');
    await once(http, 'listening');
    try {
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      expect((await fetch(`${base}/simulator`)).status).toBe(404);
      expect((await fetch(`${base}/simulator/config`)).status).toBe(404);
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('should tell the page whether the callback key is needed, never the key itself', async () => {
    const keyed = await startTestServer({ REDIS_URL: '', AT_CALLBACK_KEY: 'secret-callback-key-0123456789' });
    try {
      const res = await fetch(`${keyed.url}/simulator/config`);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ callbackKeyRequired: true, serviceCode: '*384*123#', outbox: true });
      expect(text).not.toContain('secret-callback-key');
    } finally {
      await keyed.close();
    }
  });
});
