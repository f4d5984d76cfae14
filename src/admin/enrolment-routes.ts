import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { IdentityService } from '../security/enrolment.js';
import { operatorName } from './operators.js';

/**
 * `POST /admin/enrolments` (threat T11), mounted by the admin router behind its gate (operator token, rate
 * limits; each call audited). Body `{"phone": "+254...", "reset"?: true}`:
 *
 * - 201 `{"clientId": n, "status": "code-sent"}`: the client Fineract holds for this number was sent an
 *   activation code by SMS, to that number; their next USSD session asks for it, then a new PIN twice.
 * - 400: not that body, or not a phone number. 404: no active client with this number. 409: the customer
 *   already has a PIN (send `"reset": true` to replace it: the old PIN stops working at once, any lock is
 *   lifted, open codes are void). 429: too many codes sent to this customer lately. 503: Fineract did not answer.
 *
 * Bodies never echo the number or the client's name. The operator's name is in the `enrolment.started` entry.
 */

export interface EnrolmentRouteDeps {
  identity?: IdentityService;
  logger: Logger;
}

const body = z.strictObject({ phone: z.string().min(3).max(32), reset: z.boolean().optional() });

export function mountEnrolmentRoutes(router: Router, deps: EnrolmentRouteDeps): void {
  const { identity, logger } = deps;
  if (!identity) return;

  router.post('/admin/enrolments', async (req: Request, res: Response) => {
    const parsed = body.safeParse(req.body);
    if (!parsed.success) return void res.status(400).json({ error: 'body must be {"phone": "+254...", "reset"?: true}' });
    try {
      const outcome = await identity.enrolByOperator({
        phone: parsed.data.phone,
        reset: parsed.data.reset ?? false,
        operator: operatorName(res),
      });
      switch (outcome.status) {
        case 'invalid':
          return void res.status(400).json({ error: 'phone is not a valid phone number' });
        case 'code-sent':
          return void res.status(201).json({ clientId: outcome.clientId, status: 'code-sent' });
        case 'unknown':
          return void res.status(404).json({ error: 'no active client with this number' });
        case 'has-pin':
          return void res
            .status(409)
            .json({ error: 'the customer already has a PIN; send "reset": true to replace it', clientId: outcome.clientId });
        case 'send-limit':
          return void res.status(429).json({ error: 'too many codes sent to this customer lately; try again later' });
      }
    } catch (error) {
      // The error's type only: a Fineract message may quote the search, which holds the number.
      logger.warn({ err: { type: (error as Error)?.name } }, 'enrolment not started');
      res.status(503).json({ error: 'the enrolment could not be started; try again' });
    }
  });
}
