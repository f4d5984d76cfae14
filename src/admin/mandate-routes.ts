import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { APPROVAL_STATES, type ApprovalRecord, type ApprovalService } from '../approvals/approval.js';
import { MandateError, type Mandate, type MandateRegistry } from '../approvals/mandates.js';
import type { AuditTrail } from '../audit/audit.js';
import { operatorName } from './operators.js';
import { listQuery, listQueryParameters } from './list-query.js';
import { DENIED, error, jsonRequest } from './openapi-parts.js';

/**
 * Mandates and approvals for operators (issue 11, threat T15), mounted by the admin router behind its gate
 * (operator token, rate limits; every call audited as `admin.call`):
 *
 * - `PUT /admin/mandates/<accountNo>`: writes the account's mandate (the next version). 400 when it cannot be
 *   satisfied (the reason says why: an initiator as sole approver, a band needing more approvers than remain
 *   once the requester is left out, overlapping or gapped bands) or names a client Fineract does not know; 404
 *   when the account is not a savings account of `clientId`. Audited as `mandate.changed` with the version.
 * - `GET /admin/mandates/<accountNo>`: the mandate, or 404.
 * - `GET /admin/approvals?state=pending`: approvals in a state, newest first (no phone number in them).
 * - `DELETE /admin/approvals/<id>`: an operator cancels a pending approval; its hold is released, everyone
 *   concerned is told, `approval.cancelled` names the operator. 404 unknown, 409 no longer pending.
 */

export interface MandateRouteDeps {
  mandates?: MandateRegistry;
  approvals?: ApprovalService;
  audit?: AuditTrail;
  logger: Logger;
}

const cents = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const clientIds = z.array(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)).max(50);
const body = z.strictObject({
  clientId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  initiators: clientIds,
  approvers: clientIds,
  rules: z
    .array(z.strictObject({ minCents: cents, maxCents: cents.optional(), required: z.number().int().min(1).max(50) }))
    .min(1)
    .max(20),
  expiryS: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .optional(),
});

const ACCOUNT_NO = /^\d{1,20}$/;
const APPROVAL_ID = /^[0-9a-f]{32}$/;

/** An approval as operators see it: labels (masked names), amounts, states; never a phone number. */
export function approvalView(r: ApprovalRecord) {
  return {
    id: r.id,
    ref: r.ref,
    kind: r.kind,
    state: r.state,
    amountMinor: r.intent.amountCents,
    ...(r.feeCents ? { feeMinor: r.feeCents } : {}),
    currency: r.intent.currency,
    fromAccountId: r.intent.from.accountId,
    source: r.intent.senderLabel ?? '',
    payee: r.intent.counterparty,
    requester: { clientId: r.requester.clientId, label: r.requester.label },
    approvers: r.approvers.map((a) => ({ clientId: a.clientId, label: a.label })),
    required: r.required,
    approvedBy: r.approvedBy,
    rule: r.rule,
    held: r.holdId !== undefined,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.transferDetailId !== undefined ? { transferDetailId: r.transferDetailId } : {}),
    ...((r.transferTransactionId ?? r.fineractId) !== undefined ? { transferTransactionId: r.transferTransactionId ?? r.fineractId } : {}),
  };
}

export function mountMandateRoutes(router: Router, deps: MandateRouteDeps): void {
  const { mandates, approvals, logger } = deps;

  if (mandates) {
    router.get('/admin/mandates/:accountNo', async (req: Request, res: Response) => {
      const accountNo = String(req.params.accountNo);
      if (!ACCOUNT_NO.test(accountNo)) return void res.status(400).json({ error: 'accountNo must be digits' });
      const mandate = await mandates.get(accountNo);
      if (!mandate) return void res.status(404).json({ error: 'no mandate for this account' });
      res.json(mandate satisfies Mandate);
    });

    router.put('/admin/mandates/:accountNo', async (req: Request, res: Response) => {
      const accountNo = String(req.params.accountNo);
      if (!ACCOUNT_NO.test(accountNo)) return void res.status(400).json({ error: 'accountNo must be digits' });
      const parsed = body.safeParse(req.body);
      if (!parsed.success)
        return void res
          .status(400)
          .json({ error: 'body must be {clientId, initiators, approvers, rules: [{minCents, maxCents?, required}], expiryS?}' });
      const operator = operatorName(res);
      try {
        const mandate = await mandates.put(accountNo, parsed.data, `operator:${operator}`);
        await deps.audit
          ?.record({
            type: 'mandate.changed',
            actor: `operator:${operator}`,
            clientId: mandate.clientId,
            channel: 'admin',
            data: {
              accountNo,
              version: mandate.version,
              initiators: mandate.initiators.join(','),
              approvers: mandate.approvers.join(','),
              bands: mandate.rules.map((r) => `${r.minCents}-${r.maxCents ?? ''}:${r.required}`).join(' '),
              expiryS: mandate.expiryS,
            },
          })
          .catch(() => logger.warn({ accountNo }, 'mandate audit entry not written'));
        res.json(mandate);
      } catch (error) {
        if (error instanceof MandateError) return void res.status(error.status).json({ error: error.message });
        logger.warn({ accountNo, err: { type: (error as Error)?.name } }, 'mandate not written');
        res.status(503).json({ error: 'Fineract could not be asked; try again' });
      }
    });
  }

  if (approvals) {
    router.get('/admin/approvals', async (req: Request, res: Response) => {
      const query = listQuery(req, res, APPROVAL_STATES, 'pending');
      if (!query) return;
      const { state, limit } = query;
      const list = await approvals.list(state, limit);
      res.json({ state, approvals: list.map(approvalView) });
    });

    router.delete('/admin/approvals/:id', async (req: Request, res: Response) => {
      const id = String(req.params.id);
      if (!APPROVAL_ID.test(id)) return void res.status(404).json({ error: 'no such approval' });
      const result = await approvals.cancel(id, `operator:${operatorName(res)}`, 'cancelled');
      if (result.outcome === 'cancelled') return void res.json(approvalView(result.approval));
      if (result.outcome === 'refused' && result.reason === 'not-found') return void res.status(404).json({ error: 'no such approval' });
      res.status(409).json({ error: 'the approval is no longer pending' });
    });
  }
}

const accountNoParam = { name: 'accountNo', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d{1,20}$' } };
const mandateRule = {
  type: 'object',
  required: ['minCents', 'required'],
  additionalProperties: false,
  properties: {
    minCents: { type: 'integer', minimum: 0, description: 'lowest amount of the band, minor units, inclusive' },
    maxCents: { type: 'integer', minimum: 0, description: 'highest amount, inclusive; absent on the last, open band' },
    required: { type: 'integer', minimum: 1, description: 'approvals needed in this band' },
  },
};
const mandateInput = {
  type: 'object',
  required: ['clientId', 'initiators', 'approvers', 'rules'],
  additionalProperties: false,
  properties: {
    clientId: { type: 'integer', description: "the account's owner in Fineract" },
    initiators: { type: 'array', items: { type: 'integer' }, description: 'client ids who may raise payments' },
    approvers: { type: 'array', items: { type: 'integer' }, description: 'client ids who approve (never their own request)' },
    rules: { type: 'array', items: mandateRule, description: 'bands from 0 up, no gap, no overlap, the last one open' },
    expiryS: { type: 'integer', minimum: 60, description: 'how long an approval waits (default APPROVAL_DEFAULT_EXPIRY_S)' },
  },
  examples: [{ clientId: 4, initiators: [1], approvers: [2], rules: [{ minCents: 0, required: 1 }] }],
};
const mandate = {
  ...mandateInput,
  required: ['accountNo', 'accountId', 'clientId', 'initiators', 'approvers', 'rules', 'expiryS', 'version'],
  additionalProperties: true,
  properties: {
    ...mandateInput.properties,
    accountNo: { type: 'string' },
    accountId: { type: 'integer' },
    name: { type: 'string' },
    currency: { type: 'string' },
    version: { type: 'integer', description: 'bumped on each change; an approval raised under another version fails' },
    updatedAt: { type: 'string', format: 'date-time' },
    updatedBy: { type: 'string' },
  },
};
const approval = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    ref: { type: 'string' },
    kind: { enum: ['mandate', 'cash-out'] },
    state: { enum: [...APPROVAL_STATES] },
    amountMinor: { type: 'integer' },
    feeMinor: { type: 'integer' },
    currency: { type: 'string' },
    fromAccountId: { type: 'integer' },
    source: { type: 'string' },
    payee: { type: 'string' },
    requester: { type: 'object', properties: { clientId: { type: 'integer' }, label: { type: 'string' } } },
    approvers: { type: 'array', items: { type: 'object', properties: { clientId: { type: 'integer' }, label: { type: 'string' } } } },
    required: { type: 'integer' },
    approvedBy: { type: 'array', items: { type: 'integer' } },
    rule: { type: 'string' },
    held: { type: 'boolean', description: 'a Fineract hold is still on the source account' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    reason: { type: 'string' },
    transferDetailId: {
      type: 'integer',
      description: "executed: Fineract's transfer detail id (the POST's resourceId; GET /accounttransfers?accountDetailId= maps it)",
    },
    transferTransactionId: {
      type: 'integer',
      description: "executed: Fineract's transfer transaction id (the legs' transfer.id), when reconciliation found it",
    },
  },
};

/** The OpenAPI paths of these routes (spread into the document in openapi.ts). */
export const MANDATE_OPENAPI_PATHS: Record<string, Record<string, unknown>> = {
  '/admin/mandates/{accountNo}': {
    get: {
      summary: "A savings account's mandate (issue 11): initiators, approvers, amount bands, expiry, version",
      parameters: [accountNoParam],
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: mandate } } },
        '400': error('accountNo is not digits'),
        '404': error('no mandate for this account'),
        ...DENIED,
      },
    },
    put: {
      summary:
        'Writes the mandate of a savings account (the next version; approvals raised under the previous one fail their ' +
        're-check). Refused when it cannot be satisfied. Audited as mandate.changed.',
      parameters: [accountNoParam],
      requestBody: jsonRequest(mandateInput),
      responses: {
        '200': { description: 'written', content: { 'application/json': { schema: mandate } } },
        '400': error(
          'not that body, or a mandate that cannot be satisfied (an initiator as sole approver, a band needing more approvers ' +
            'than remain without the requester, overlapping or gapped bands), or a client Fineract does not know',
        ),
        '404': error('no such client, or the account is not a savings account of clientId'),
        '503': error('Fineract could not be asked'),
        ...DENIED,
      },
    },
  },
  '/admin/approvals': {
    get: {
      summary: 'Approvals in a state, newest first (pending ones past their expiry are never listed)',
      parameters: listQueryParameters(APPROVAL_STATES, 'pending'),
      responses: {
        '200': {
          description: 'OK',
          content: {
            'application/json': {
              schema: { type: 'object', properties: { state: { type: 'string' }, approvals: { type: 'array', items: approval } } },
            },
          },
        },
        '400': error('state or limit out of range'),
        ...DENIED,
      },
    },
  },
  '/admin/approvals/{id}': {
    delete: {
      summary: 'Cancels a pending approval (an operator): its hold is released, everyone concerned is told, audited with the operator',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' } }],
      responses: {
        '200': { description: 'cancelled', content: { 'application/json': { schema: approval } } },
        '404': error('no such approval'),
        '409': error('the approval is no longer pending'),
        ...DENIED,
      },
    },
  },
};
