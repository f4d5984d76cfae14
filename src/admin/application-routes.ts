import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { APPLICATION_STATES, type Application, type ReviewResult } from '../origination/application.js';
import type { ApplicationService } from '../origination/applications.js';
import { maskMsisdn } from '../logger.js';
import { operatorName } from './operators.js';
import { listQuery, listQueryParameters } from './list-query.js';
import { DENIED, error, jsonRequest } from './openapi-parts.js';

/**
 * Loan applications for reviewers (issue 12, point 5), mounted by the admin router behind its gate (operator
 * token, rate limits; every call audited as `admin.call`):
 *
 * - `GET /admin/applications?state=review`: applications in a state, newest first.
 * - `GET /admin/applications/<id>`: one, with the automated checks' results.
 * - `POST /admin/applications/<id>/approve`: review → approved, then the client (when needed) and the loan are
 *   created in Fineract once. Repeating it, or two reviewers at once, answers the same application (200); 202
 *   when Fineract could not be reached (it is sent again by the status job); 409 when it is not waiting for review.
 * - `POST /admin/applications/<id>/reject` `{"reason"}`: review → rejected; repeating it answers 200 the same.
 *
 * The decisions are audited as `application.approved` / `application.rejected` with the operator's name. The
 * answer shows the masked number only (the applicant's name is not in the record).
 */

const APPLICATION_ID = /^[0-9a-f]{32}$/;
const MAX_REASON = 200;
const rejectBody = z.strictObject({ reason: z.string().trim().min(1).max(MAX_REASON) });

/** An application as reviewers see it. */
export function applicationView(a: Application) {
  return {
    id: a.id,
    ref: a.ref,
    state: a.state,
    msisdn: maskMsisdn(a.msisdn),
    lang: a.lang,
    ...(a.profileId ? { profileId: a.profileId } : {}),
    ...(a.clientId !== undefined ? { clientId: a.clientId } : {}),
    productId: a.productId,
    product: a.productName,
    principalMinor: a.principalCents,
    repayments: a.repayments,
    currency: a.currency,
    quote: {
      instalmentMinor: a.quote.instalmentCents,
      totalRepaymentMinor: a.quote.totalRepaymentCents,
      totalCostMinor: a.quote.totalCostCents,
    },
    checks: a.checks,
    ...(a.reason ? { reason: a.reason } : {}),
    ...(a.reviewedBy ? { reviewedBy: a.reviewedBy } : {}),
    ...(a.loanId !== undefined ? { loanId: a.loanId } : {}),
    channel: a.channel,
    createdAt: new Date(a.createdAt).toISOString(),
    updatedAt: new Date(a.updatedAt).toISOString(),
  };
}

export interface ApplicationRouteDeps {
  applications?: ApplicationService;
  logger: Logger;
}

export function mountApplicationRoutes(router: Router, deps: ApplicationRouteDeps): void {
  const { applications, logger } = deps;
  if (!applications) return;

  const answer = (res: Response, result: ReviewResult) => {
    switch (result.outcome) {
      case 'not-found':
        return void res.status(404).json({ error: 'no such application' });
      case 'conflict':
        return void res.status(409).json({ error: `the application is ${result.application.state}, not waiting for review` });
      case 'core-unavailable':
        return void res.status(202).json(applicationView(result.application));
      default:
        return void res.json(applicationView(result.application));
    }
  };

  router.get('/admin/applications', async (req: Request, res: Response) => {
    const query = listQuery(req, res, APPLICATION_STATES, 'review');
    if (!query) return;
    const { state, limit } = query;
    const list = await applications.list(state, limit);
    res.json({ state, applications: list.map(applicationView) });
  });

  router.get('/admin/applications/:id', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const application = APPLICATION_ID.test(id) ? await applications.get(id) : undefined;
    if (!application) return void res.status(404).json({ error: 'no such application' });
    res.json(applicationView(application));
  });

  router.post('/admin/applications/:id/approve', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!APPLICATION_ID.test(id)) return void res.status(404).json({ error: 'no such application' });
    try {
      answer(res, await applications.approve(id, operatorName(res)));
    } catch (error) {
      logger.warn({ err: { type: (error as Error)?.name } }, 'application approval failed');
      res.status(503).json({ error: 'the approval could not be recorded; try again' });
    }
  });

  router.post('/admin/applications/:id/reject', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!APPLICATION_ID.test(id)) return void res.status(404).json({ error: 'no such application' });
    const body = rejectBody.safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: `body must be {"reason": "..."} (at most ${MAX_REASON} characters)` });
    answer(res, await applications.reject(id, operatorName(res), body.data.reason));
  });
}

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' } };
const application = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{32}$', description: "also the loan's externalId in Fineract" },
    ref: { type: 'string' },
    state: { enum: [...APPLICATION_STATES] },
    msisdn: { type: 'string', description: 'masked' },
    lang: { type: 'string' },
    profileId: { type: 'string', description: "the sign-up profile (the client's externalId in Fineract)" },
    clientId: { type: 'integer' },
    productId: { type: 'integer' },
    product: { type: 'string' },
    principalMinor: { type: 'integer' },
    repayments: { type: 'integer' },
    currency: { type: 'string' },
    quote: {
      type: 'object',
      properties: { instalmentMinor: { type: 'integer' }, totalRepaymentMinor: { type: 'integer' }, totalCostMinor: { type: 'integer' } },
    },
    checks: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, ok: { type: 'boolean' }, detail: { type: 'string' } } },
    },
    reason: { type: 'string' },
    reviewedBy: { type: 'string' },
    loanId: { type: 'integer' },
    channel: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};
const one = (description: string) => ({ description, content: { 'application/json': { schema: application } } });

/** The OpenAPI paths of these routes (spread into the document in openapi.ts). */
export const APPLICATION_OPENAPI_PATHS: Record<string, Record<string, unknown>> = {
  '/admin/applications': {
    get: {
      summary: 'Loan applications in a state (issue 12), newest first',
      parameters: listQueryParameters(APPLICATION_STATES, 'review'),
      responses: {
        '200': {
          description: 'OK',
          content: {
            'application/json': {
              schema: { type: 'object', properties: { state: { type: 'string' }, applications: { type: 'array', items: application } } },
            },
          },
        },
        '400': error('state or limit out of range'),
        ...DENIED,
      },
    },
  },
  '/admin/applications/{id}': {
    get: {
      summary: 'One loan application with the automated checks it passed or failed',
      parameters: [idParam],
      responses: { '200': one('OK'), '404': error('no such application'), ...DENIED },
    },
  },
  '/admin/applications/{id}/approve': {
    post: {
      summary:
        'Approves an application waiting for review: the client (when needed) and the loan are created in Fineract once, ' +
        'with the profile and application ids as external ids. Idempotent; audited as application.approved with the operator.',
      parameters: [idParam],
      responses: {
        '200': one('approved (or approved before): the application as it now is'),
        '202': one('approved, but Fineract could not be reached: it is sent again by the status job'),
        '404': error('no such application'),
        '409': error('the application is not waiting for review (declined, rejected, withdrawn)'),
        '503': error('the approval could not be recorded'),
        ...DENIED,
      },
    },
  },
  '/admin/applications/{id}/reject': {
    post: {
      summary:
        'Declines an application waiting for review, with a reason the applicant is told. Idempotent; audited as application.rejected.',
      parameters: [idParam],
      requestBody: jsonRequest({
        type: 'object',
        required: ['reason'],
        additionalProperties: false,
        properties: { reason: { type: 'string', minLength: 1, maxLength: MAX_REASON } },
      }),
      responses: {
        '200': one('rejected (or rejected before)'),
        '400': error('no reason, or not that body'),
        '404': error('no such application'),
        '409': error('the application is not waiting for review'),
        ...DENIED,
      },
    },
  },
};
