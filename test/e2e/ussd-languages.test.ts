import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';
import { measure } from '../../src/text/gsm.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('languages', () => {
  it('should switch to Swahili, and remember the choice in the next session', async () => {
    const s = atSession(server, '+254711000002');
    await s.send();
    await s.send('2468');
    expect((await s.send('6')).body).toBe('CON Choose language\n1. English\n2. Kiswahili\n3. Francais');
    const menu = await s.send('2');
    expect(menu.body).toMatch(/^CON Menyu kuu\n1\. Salio/);
    const next = atSession(server, '+254711000002');
    const first = await next.send();
    expect(first.body).toMatch(/^CON Karibu Baraka/);
    await next.send('2468');
    const balance = await next.send('1');
    expect(balance.body).toBe('END Salio\nAkiba Savings 000000002: KES 3,000.00');
  });

  it('should format amounts the French way in GSM-7', async () => {
    const msisdn = '+254711000004';
    await server.services.store.set(server.services.keys.language(msisdn), 'fr');
    const s = atSession(server, msisdn);
    await s.send();
    await s.send('8642');
    const balance = await s.send('1');
    expect(balance.body).toBe('END Solde\nAkiba Savings 000000004: 250 000,00 KES');
    expect(measure(balance.body).encoding).toBe('GSM-7');
  });
});

describe('paging a screen longer than the limit, in each locale', () => {
  let narrow: TestServer;
  beforeAll(async () => {
    narrow = await startTestServer({ USSD_MAX_CHARS: '40' });
  });
  afterAll(async () => {
    await narrow?.close();
  });

  const labels: Record<string, { more: string; back: string }> = {
    en: { more: '98. More', back: '0. Back' },
    sw: { more: '98. Zaidi', back: '0. Rudi' },
    fr: { more: '98. Suite', back: '0. Retour' },
  };

  for (const lang of ['en', 'sw', 'fr']) {
    it(`should page the main menu with translated More/Back in '${lang}' and keep every option whole`, async () => {
      const msisdn = '+254711000001';
      await narrow.services.store.set(narrow.services.keys.language(msisdn), lang);
      const s = atSession(narrow, msisdn);
      await s.send();
      const pages = [(await s.send('1234')).body];
      // Amina's menu has 9 options (her business account since issue 11): up to 12 narrow pages.
      for (let i = 0; i < 12 && pages[pages.length - 1]!.includes(labels[lang]!.more); i++) pages.push((await s.send('98')).body);
      expect(pages.length).toBeGreaterThan(1);
      for (const page of pages) {
        expect(page.startsWith('CON ')).toBe(true);
        expect(measure(page.slice(4)).units).toBeLessThanOrEqual(40);
      }
      expect(pages[0]).toContain(labels[lang]!.more);
      expect(pages[pages.length - 1]).toContain(labels[lang]!.back);
      expect(pages[pages.length - 1]).not.toContain(labels[lang]!.more);
      const options = pages
        .map((p) => p.slice(4))
        .join('\n')
        .split('\n')
        .filter((l) => /^[1-6]\. /.test(l));
      expect(options).toHaveLength(5);
      // Back from the last page shows the previous page again; an option key still works from any page.
      expect((await s.send('0')).body).toBe(pages[pages.length - 2]);
      expect((await s.send('6')).body).toMatch(/^CON /);
    });
  }
});
