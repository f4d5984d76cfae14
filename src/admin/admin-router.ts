import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { PinService } from '../security/pin.js';
import type { TransferService } from '../money/transfer-service.js';
import type { FineractClient } from '../fineract/types.js';
import { FineractError } from '../fineract/errors.js';
import type { AuditEvent, AuditTrail } from '../audit/audit.js';
import type { SwitchScope } from '../control/switches.js';
import { MAX_REASON, isScopeName, type SwitchBoard } from '../control/switch-board.js';
import { adminRateLimit, bearerOf, operatorName, operatorOf, type AdminLimits, type Operator } from './operators.js';
import { ADMIN_OPENAPI } from './openapi.js';
import { mountAuditRoutes } from './audit-routes.js';
import type { LockedCustomers } from './locked-customers.js';
import type { IdentityService } from '../security/enrolment.js';
import { mountEnrolmentRoutes } from './enrolment-routes.js';
import { mountMandateRoutes, type MandateRouteDeps } from './mandate-routes.js';
import { mountAgentRoutes, type AgentRouteDeps } from './agent-routes.js';
import { mountApplicationRoutes } from './application-routes.js';
import type { ApplicationService } from '../origination/applications.js';
import { consolePage, summaryRoute, type Summary } from './console.js';

/**
 * The operator API under `/admin` (threat T17). Each call: the source address's rate limit, then an
 * operator's bearer token (ADMIN_TOKENS, compared in constant time with every token), then the operator's
 * rate limit; refused calls are logged (never the token), allowed ones logged and audited (`admin.call`,
 * actor `operator:<name>`, method, route pattern, status). With no operator configured the API does not
 * exist (404). Error bodies are fixed sentences: no phone number, no name, nothing echoed.
 *
 * To add routes: register them on `router` after the gate below (one line per module, e.g.
 * `auditRoutes(router, ...)`), and describe them in `openapi.ts` (a test compares the two).
 */

export interface AdminOptions {
  /** ADMIN_TOKENS (and ADMIN_TOKEN as `admin`). None: every /admin path answers 404. */
  operators: readonly Operator[];
  pins: PinService;
  /** With it, `GET /admin/transfers?status=uncertain` lists the money movements whose outcome is not known. */
  transfers?: TransferService;
  /** Asked whether a client exists before an unlock (404 for one Fineract does not know). */
  fineract?: Pick<FineractClient, 'getClient'>;
  /** The kill switches; with them `GET /admin/switches` and `PUT /admin/switches/<scope>`. */
  switches?: SwitchBoard;
  /** Every scope that can be switched: the fixed ones and `flow:<id>` of each loaded flow. */
  scopes?: () => SwitchScope[];
  /** ADMIN_FOUR_EYES, shown in `GET /admin/switches`. */
  fourEyes?: boolean;
  /** Every allowed call is recorded here with the operator's name (threat T16). */
  audit?: AuditTrail;
  /** ADMIN_RATE_PER_MIN on shared token buckets; absent: no limit (tests of other routes). */
  limits?: AdminLimits;
  /** Live session records by channel (`GET /admin/sessions/count`). */
  sessions?: () => Promise<Record<string, number>>;
  /** Customers locked out (`GET /admin/customers/locked`). */
  locked?: LockedCustomers;
  /** Enrolment (`POST /admin/enrolments`, enrolment-routes.ts). */
  identity?: IdentityService;
  /** The agent registry (`PUT`/`GET /admin/agents/<clientId>`, agent-routes.ts). */
  agents?: Omit<AgentRouteDeps, 'logger' | 'audit'>;
  /** Mandates and approvals (issue 11, mandate-routes.ts): `PUT`/`GET /admin/mandates/<accountNo>`, `GET`/`DELETE /admin/approvals`. */
  approvals?: Pick<MandateRouteDeps, 'mandates' | 'approvals'>;
  /** Loan applications (issue 12, application-routes.ts): `GET /admin/applications`, approve, reject. */
  applications?: ApplicationService;
  /** The key numbers of /metrics for the console (`GET /admin/summary`). */
  summary?: () => Promise<Summary>;
  logger: Logger;
}

/** Method and path for a log line, with anything that looks like a phone number left out. */
const described = (req: Request) => `${req.method} ${req.baseUrl}${req.path}`.replace(/\+?\d{7,}/g, '<number>');

const switchBody = z.strictObject({
  off: z.boolean(),
  reason: z.string().trim().min(1).max(MAX_REASON).optional(),
});

export function adminRouter(options: AdminOptions): Router {
  const router = Router();
  const { pins, logger } = options;
  const enabled = options.operators.length > 0;

  /** Records an audit entry; a trail that cannot write is logged, never the caller's failure. */
  const record = (event: AuditEvent) => {
    options.audit?.record(event).catch((error: unknown) => {
      logger.warn({ err: { type: (error as Error)?.name }, audit: event.type }, 'admin audit entry not written');
    });
  };

  // Without operators there is no admin API at all, whatever is asked.
  router.use('/admin', (_req, res, next) => {
    if (!enabled) return void res.status(404).type('text/plain').send('not found');
    next();
  });

  // Public routes (no token; they hold no data) go here, before the gate: this API's description, the console page.
  router.get('/admin/openapi.json', (_req, res) => {
    res.json(ADMIN_OPENAPI);
  });
  router.use(consolePage());

  // The gate: source rate limit, token, operator rate limit, then the log line and the audit entry.
  if (options.limits) router.use('/admin', adminRateLimit(options.limits, logger, 'source'));
  router.use('/admin', (req: Request, res: Response, next: NextFunction) => {
    const operator = operatorOf(options.operators, bearerOf(req));
    if (!operator) {
      logger.warn({ admin: described(req) }, 'admin call refused');
      res.status(401).type('text/plain').send('unauthorized');
      return;
    }
    res.locals.operator = operator.name;
    logger.info({ admin: described(req), operator: operator.name }, 'admin call');
    res.once('finish', () => {
      record({
        type: 'admin.call',
        actor: `operator:${operator.name}`,
        channel: 'admin',
        // The route's pattern, never the path as sent (it may hold whatever the caller typed).
        data: { method: req.method, route: req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched', status: res.statusCode },
      });
    });
    next();
  });
  if (options.limits) router.use('/admin', adminRateLimit(options.limits, logger, 'operator'));
  mountAuditRoutes(router, { audit: options.audit, logger });
  if (options.summary) summaryRoute(router, options.summary);

  const clientId = (req: Request): number | undefined => {
    const raw = String(req.params.clientId ?? '');
    return /^\d{1,12}$/.test(raw) ? Number(raw) : undefined;
  };

  mountEnrolmentRoutes(router, { identity: options.identity, logger });
  mountMandateRoutes(router, { ...options.approvals, audit: options.audit, logger });
  mountAgentRoutes(router, options.agents && { ...options.agents, audit: options.audit, logger });
  mountApplicationRoutes(router, { applications: options.applications, logger });

  /** Is the customer's PIN locked, until when (`until`, ISO time; absent when `hard`), after how many locks in a row? */
  router.get('/admin/customers/:clientId/pin', async (req, res) => {
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
  router.delete('/admin/customers/:clientId/pin/lock', async (req, res) => {
    const id = clientId(req);
    if (id === undefined) return void res.status(400).json({ error: 'clientId must be a number' });
    if (options.fineract) {
      try {
        await options.fineract.getClient(id);
      } catch (error) {
        if (error instanceof FineractError && error.kind === 'not-found') return void res.status(404).json({ error: 'no such client' });
        return void res.status(503).json({ error: 'Fineract could not be asked; try again' });
      }
    }
    await pins.unlock(id);
    await options.locked?.remove([String(id)]).catch(() => undefined);
    record({ type: 'pin.unlocked', actor: `operator:${operatorName(res)}`, clientId: id, channel: 'admin', data: { by: 'operator' } });
    res.json({ clientId: id, locked: false });
  });

  /** Customers whose PIN is locked right now (timed locks that ended are dropped on the way). */
  router.get('/admin/customers/locked', async (_req, res) => {
    res.json({ customers: options.locked ? await options.locked.list((id) => pins.status(id)) : [] });
  });

  /**
   * Money movements whose outcome is not known yet (threats T29, T30), oldest first: reference, customer id,
   * amount, masked sender number, masked counterparty, age, and whether the resolution stopped sending.
   */
  router.get('/admin/transfers', async (req, res) => {
    const status = typeof req.query.status === 'string' ? req.query.status : 'uncertain';
    if (status !== 'uncertain') return void res.status(400).json({ error: 'status must be uncertain' });
    if (!options.transfers) return void res.json({ status, transfers: [] });
    res.json({ status, transfers: await options.transfers.listUncertain() });
  });

  /** Sessions with a live record, by channel. */
  router.get('/admin/sessions/count', async (_req, res) => {
    let sessions: Record<string, number> = {};
    try {
      sessions = (await options.sessions?.()) ?? {};
    } catch {
      return void res.status(503).json({ error: 'sessions could not be counted' });
    }
    res.json({ sessions, total: Object.values(sessions).reduce((a, b) => a + b, 0) });
  });

  const knownScope = (text: string): SwitchScope | undefined =>
    isScopeName(text) && (options.scopes?.() ?? []).includes(text) ? text : undefined;

  /** Every scope with its state, and a four-eyes request waiting for its second operator. */
  router.get('/admin/switches', async (_req, res) => {
    const board = options.switches;
    if (!board) return void res.json({ fourEyes: Boolean(options.fourEyes), switches: [] });
    try {
      const scopes = options.scopes?.() ?? [];
      const states = await board.states(scopes);
      const withPending = await Promise.all(
        states.map(async (s) => {
          const pending = await board.pending(s.scope);
          return pending ? { ...s, pending } : s;
        }),
      );
      res.json({ fourEyes: Boolean(options.fourEyes), switches: withPending });
    } catch {
      res.status(503).json({ error: 'switch state unavailable; try again' });
    }
  });

  /** Switches a scope off (with a reason) or on; four eyes for `money` and `all` back on. */
  router.put('/admin/switches/:scope', async (req, res) => {
    const board = options.switches;
    const scope = knownScope(String(req.params.scope ?? ''));
    if (!board || !scope) return void res.status(404).json({ error: 'unknown scope' });
    const body = switchBody.safeParse(req.body);
    if (!body.success)
      return void res
        .status(400)
        .json({ error: `body must be {"off": true|false, "reason": "..."} (reason at most ${MAX_REASON} characters)` });
    if (body.data.off && !body.data.reason) return void res.status(400).json({ error: 'a reason is required to switch off' });
    const by = operatorName(res);
    let outcome;
    try {
      outcome = await board.change(scope, body.data, by);
    } catch {
      return void res.status(503).json({ error: 'switch state unavailable; try again' });
    }
    const actor = `operator:${by}` as const;
    switch (outcome.status) {
      case 'pending':
        record({ type: 'switch.requested', actor, channel: 'admin', data: { scope, off: false } });
        logger.warn({ scope, operator: by }, 'switch back on requested: a second operator must confirm');
        return void res.status(202).json({ status: 'pending', requestedBy: outcome.requestedBy });
      case 'same-operator':
        return void res.status(409).json({ error: 'a second, different operator must confirm this change' });
      case 'applied': {
        const { state } = outcome;
        record({
          type: 'switch.changed',
          actor,
          channel: 'admin',
          data: { scope, off: state.off, reason: state.reason ?? null, requestedBy: outcome.requestedBy ?? null },
        });
        logger.warn({ scope, off: state.off, operator: by }, state.off ? 'switched off' : 'switched on');
        return void res.json(state);
      }
    }
  });

  return router;
}
