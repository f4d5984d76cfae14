import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { PinService } from '../security/pin.js';
import type { TransferService } from '../money/transfer-service.js';
import { timingSafeEqualStr } from '../security/secrets.js';

/**
 * The operator API under `/admin`, behind `Authorization: Bearer $ADMIN_TOKEN` compared in constant time
 * (threat T17). Disabled (404) when no token is configured. Every call is logged without personal data.
 */

export interface AdminOptions {
  token?: string;
  pins: PinService;
  /** With it, `GET /admin/transfers?status=uncertain` lists the money movements whose outcome is not known. */
  transfers?: TransferService;
  logger: Logger;
}

export function adminRouter(options: AdminOptions): Router {
  const router = Router();
  const { pins, logger } = options;

  const auth = (req: Request, res: Response, next: NextFunction) => {
    if (!options.token) {
      res.status(404).type('text/plain').send('not found');
      return;
    }
    const header = req.get('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!timingSafeEqualStr(given, options.token)) {
      logger.warn({ admin: req.method + ' ' + req.path }, 'admin call refused');
      res.status(401).type('text/plain').send('unauthorized');
      return;
    }
    logger.info({ admin: req.method + ' ' + req.path }, 'admin call');
    next();
  };

  const clientId = (req: Request): number | undefined => {
    const raw = String(req.params.clientId ?? '');
    return /^\d{1,12}$/.test(raw) ? Number(raw) : undefined;
  };

  /** Is the customer's PIN locked, until when (`until`, ISO time; absent when `hard`), after how many locks in a row? */
  router.get('/admin/customers/:clientId/pin', auth, async (req, res) => {
    const id = clientId(req);
    if (id === undefined) return void res.status(400).json({ error: 'clientId must be a number' });
    const s = await pins.status(id);
    res.json({
      clientId: id,
      locked: s.locked,
      hard: s.hard,
      ...(s.until ? { until: new Date(s.until).toISOString() } : {}),
      failures: s.failures,
      locks: s.locks,
    });
  });

  /** Unlocks a customer locked out by wrong PINs (on every channel), timed or hard, and forgets the escalation. */
  router.delete('/admin/customers/:clientId/pin/lock', auth, async (req, res) => {
    const id = clientId(req);
    if (id === undefined) return void res.status(400).json({ error: 'clientId must be a number' });
    await pins.unlock(id);
    res.json({ clientId: id, locked: false });
  });

  /**
   * Money movements whose outcome is not known yet (threats T29, T30), oldest first: reference, customer id,
   * amount, masked sender number, masked counterparty, age, and whether the resolution stopped sending.
   */
  router.get('/admin/transfers', auth, async (req, res) => {
    const status = typeof req.query.status === 'string' ? req.query.status : 'uncertain';
    if (status !== 'uncertain') return void res.status(400).json({ error: 'status must be uncertain' });
    if (!options.transfers) return void res.json({ status, transfers: [] });
    res.json({ status, transfers: await options.transfers.listUncertain() });
  });

  return router;
}
