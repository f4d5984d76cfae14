import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Router, type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { DEMO_CLIENTS } from '../sandbox/demo-data.js';
import { DEMO_PINS } from '../security/demo-pins.js';
import { inlinePagePolicy } from '../security/page-policy.js';

/**
 * `/simulator`: a phone in the browser for flow authors and demos, mounted only in sandbox and development
 * mode (app.ts). The page is one static HTML file with its script inline (no framework, no build step); it
 * calls this server's Africa's Talking USSD, SMS and voice routes as the aggregator does, reads the sandbox
 * outbox (SMS replies, receipts) and polls the sandbox dialer (`/sandbox/calls`) for call-backs to answer, the
 * spoken text of the voice XML shown and keypad digits posted as GetDigits results. `/simulator/config` tells it
 * the USSD code, the screen budget, whether the AT callback key is required (never the key itself) and, with
 * the built-in sandbox, the demo customers and their PINs (public demo data, listed in README.md).
 */

export interface SimulatorOptions {
  config: Config;
  /** The built-in Fineract sandbox runs in this process (its demo data is shown). */
  sandbox: boolean;
  /** GET /sandbox/outbox exists (the SMS inbox shows it). */
  outbox: boolean;
  serviceCode?: string;
}

/** index.html next to this module (src/), or the source copy when running compiled from dist/. */
function pagePath(): string | undefined {
  const candidates = [new URL('./index.html', import.meta.url), new URL('../../src/simulator/index.html', import.meta.url)];
  return candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
}

export function simulatorRouter(options: SimulatorOptions): Router {
  const router = Router();
  const path = pagePath();
  const html = path ? readFileSync(path, 'utf8') : undefined;
  const csp = html ? inlinePagePolicy(html) : undefined;
  const customers = options.sandbox
    ? Object.values(DEMO_CLIENTS)
        .filter((c) => c.msisdn && DEMO_PINS[c.id])
        .map((c) => ({ name: c.displayName, msisdn: c.msisdn!, pin: DEMO_PINS[c.id]! }))
    : [];

  const page = (_req: Request, res: Response) => {
    res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    if (!html || !csp) {
      res.status(500).type('text/plain').send('simulator page missing: src/simulator/index.html is not next to the server');
      return;
    }
    res.set('Content-Security-Policy', csp).type('html').send(html);
  };
  router.get('/simulator', page);
  router.get('/simulator/', page);
  router.get('/simulator/config', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({
      mode: options.sandbox ? 'sandbox: built-in Fineract with demo data' : 'development',
      serviceCode: options.serviceCode ?? '*384*123#',
      callbackKeyRequired: Boolean(options.config.africastalking.callbackKey),
      limits: { 'GSM-7': options.config.ussd.maxChars, 'UCS-2': options.config.ussd.maxUcs2 },
      outbox: options.outbox,
      customers,
    });
  });
  return router;
}
