import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Router, type Request, type Response } from 'express';
import { inlinePagePolicy } from '../security/page-policy.js';

/**
 * The operator console (`GET /admin/console`): one static page with its script inline, no framework and
 * nothing loaded from elsewhere. The operator signs in with their admin token, which the page keeps in
 * sessionStorage and sends as `Authorization: Bearer` to the admin API it calls (switches, enrolments, locked
 * customers, uncertain transfers, audit, session count, and `GET /admin/summary` added here). The page itself
 * holds no data and needs no token; everything it shows is fetched behind the admin API's own checks (rate
 * limits, token, audit) and written with textContent. The Content-Security-Policy allows exactly the page's own script and style (by hash), calls
 * to this origin only, and no framing.
 */

export interface SummaryNumber {
  key: string;
  label: string;
  /** null when this process does not measure it (the module is not configured). */
  value: number | null;
  /** The value split by the metric's label (channel, outcome, scope...), when it has one. */
  by?: Record<string, number>;
}

export interface Summary {
  numbers: SummaryNumber[];
}

/** console.html next to this module, or the source copy when running compiled from dist/. */
function pagePath(): string | undefined {
  const candidates = [new URL('./console.html', import.meta.url), new URL('../../src/admin/console.html', import.meta.url)];
  return candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
}

/**
 * `GET /admin/console`: the page. Mount it before the admin API's token check (it holds no data; the
 * operator's token is typed into it).
 */
export function consolePage(): Router {
  const router = Router();
  const path = pagePath();
  const html = path ? readFileSync(path, 'utf8') : undefined;
  const csp = html ? inlinePagePolicy(html) : undefined;

  const page = (_req: Request, res: Response) => {
    res.set({
      'Cache-Control': 'no-store',
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    if (!html || !csp) {
      res.status(500).type('text/plain').send('console page missing: src/admin/console.html is not next to the server');
      return;
    }
    res.set('Content-Security-Policy', csp).type('html').send(html);
  };
  router.get('/admin/console', page);
  return router;
}

/**
 * `GET /admin/summary`: the key numbers the console shows on top (read from /metrics' registry), with the
 * operator's name. Register it after the admin API's token check.
 */
export function summaryRoute(router: Router, summary: () => Promise<Summary>): void {
  router.get('/admin/summary', async (_req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store').json({ operator: String(res.locals.operator ?? ''), ...(await summary()) });
  });
}
