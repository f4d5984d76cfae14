import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { FineractClient } from '../fineract/types.js';
import { FineractError, OwnershipError } from '../fineract/errors.js';
import type { AuditTrail } from '../audit/audit.js';
import {
  AgentLimitFields,
  AgentLimitsSchema,
  DEFAULT_AGENT_LIMITS,
  StoreNumberSchema,
  type AgentRecord,
  type AgentRegistry,
} from '../agents/registry.js';
import { operatorName } from './operators.js';
import { DENIED, error, jsonRequest } from './openapi-parts.js';

/**
 * The agent registry for operators (issue 11; threats T14, T32), mounted by the admin router behind its gate
 * (operator token, rate limits; each call audited as `admin.call`, a change also as `agent.changed`).
 *
 * - `PUT /admin/agents/<clientId>` body `{"storeNumber": "5501", "floatAccountNo": "000000003", "status"?:
 *   "active" | "suspended", "limits"?: {...}}`: the float must be an active savings account of that very client
 *   in Fineract (read there now, never taken on trust); limits not given keep their current (or default)
 *   values. 200 with the record; 400 a bad body; 404 no such client or no such savings account of the client;
 *   409 the store number belongs to another agent; 422 the float account is not active; 503 Fineract silent.
 * - `GET /admin/agents/<clientId>`: 200 the record, 404 when the client is no agent.
 */

export interface AgentRouteDeps {
  registry: AgentRegistry;
  fineract: Pick<FineractClient, 'getClient' | 'listAccounts' | 'getOwnedSavingsAccount'>;
  audit?: AuditTrail;
  logger: Logger;
}

export const AgentBody = z.strictObject({
  storeNumber: StoreNumberSchema,
  floatAccountNo: z.string().regex(/^\d{1,20}$/, 'an account number is digits'),
  status: z.enum(['active', 'suspended']).optional(),
  limits: AgentLimitFields.partial().strict().optional(),
});

const view = (r: AgentRecord) => ({
  clientId: r.clientId,
  storeNumber: r.storeNumber,
  floatAccountNo: r.floatAccountNo,
  status: r.status,
  limits: r.limits,
  updatedBy: r.updatedBy,
  updatedAt: new Date(r.updatedAt).toISOString(),
});

export function mountAgentRoutes(router: Router, deps?: AgentRouteDeps): void {
  if (!deps) return;
  const { registry, fineract, logger } = deps;
  const clientIdOf = (req: Request) => {
    const raw = String(req.params.clientId ?? '');
    return /^\d{1,12}$/.test(raw) ? Number(raw) : undefined;
  };

  router.get('/admin/agents/:clientId', async (req: Request, res: Response) => {
    const id = clientIdOf(req);
    if (id === undefined) return void res.status(400).json({ error: 'clientId must be a number' });
    const record = await registry.get(id);
    if (!record) return void res.status(404).json({ error: 'this client is not an agent' });
    res.json(view(record));
  });

  router.put('/admin/agents/:clientId', async (req: Request, res: Response) => {
    const id = clientIdOf(req);
    if (id === undefined) return void res.status(400).json({ error: 'clientId must be a number' });
    const parsed = AgentBody.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return void res.status(400).json({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
    }
    const body = parsed.data;
    const previous = await registry.get(id);
    const limits = AgentLimitsSchema.safeParse({ ...(previous?.limits ?? DEFAULT_AGENT_LIMITS), ...body.limits });
    if (!limits.success) return void res.status(400).json({ error: `limits: ${limits.error.issues[0]?.message ?? 'invalid'}` });
    let floatAccountId: number;
    try {
      const client = await fineract.getClient(id);
      if (!client.active) return void res.status(422).json({ error: 'the client is not active in Fineract' });
      const summary = (await fineract.listAccounts(id)).savings.find((s) => s.accountNo === body.floatAccountNo);
      if (!summary) return void res.status(404).json({ error: 'the client has no savings account with this number' });
      // Read as the client's own: Fineract's answer must name this client as the holder.
      const account = await fineract.getOwnedSavingsAccount(id, summary.id);
      if (!account.active) return void res.status(422).json({ error: 'the float account is not active' });
      floatAccountId = account.id;
    } catch (error) {
      if (error instanceof OwnershipError)
        return void res.status(404).json({ error: 'the client has no savings account with this number' });
      if (error instanceof FineractError && error.kind === 'not-found')
        return void res.status(404).json({ error: 'no such client in Fineract' });
      logger.warn({ err: { type: (error as Error)?.name } }, 'agent not saved: Fineract did not answer');
      return void res.status(503).json({ error: 'Fineract did not answer; try again' });
    }
    const record: AgentRecord = {
      clientId: id,
      storeNumber: body.storeNumber,
      floatAccountId,
      floatAccountNo: body.floatAccountNo,
      status: body.status ?? previous?.status ?? 'active',
      limits: limits.data,
      updatedBy: `operator:${operatorName(res)}`,
      updatedAt: Date.now(),
    };
    const saved = await registry.put(record);
    if (!saved.ok) return void res.status(409).json({ error: 'this store number belongs to another agent' });
    await deps.audit
      ?.record({
        type: 'agent.changed',
        actor: `operator:${operatorName(res)}`,
        clientId: id,
        channel: 'admin',
        data: { status: record.status, floatAccountId, created: !previous },
      })
      .catch(() => undefined);
    res.json(view(record));
  });
}

const cents = { type: 'integer', minimum: 0, description: 'minor units (KES cents)' };
const limitsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    minCents: cents,
    maxCents: cents,
    dailyCount: { type: 'integer', minimum: 1, description: 'movements per agent per business day' },
    dailyInCents: cents,
    dailyOutCents: cents,
    floatFloorCents: cents,
    customerDailyCents: cents,
  },
};
const agentSchema = {
  type: 'object',
  properties: {
    clientId: { type: 'integer' },
    storeNumber: { type: 'string', pattern: '^\\d{4,10}$' },
    floatAccountNo: { type: 'string' },
    status: { enum: ['active', 'suspended'] },
    limits: limitsSchema,
    updatedBy: { type: 'string', examples: ['operator:wanjiku', 'system'] },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};
const clientIdParam = { name: 'clientId', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d{1,12}$' } };

/** The OpenAPI paths of these routes (spread into the document in openapi.ts). */
export const AGENT_OPENAPI_PATHS: Record<string, Record<string, unknown>> = {
  '/admin/agents/{clientId}': {
    get: {
      summary: "An agent's record (issue 11): store number, float account, status, limits",
      parameters: [clientIdParam],
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: agentSchema } } },
        '400': error('clientId is not a number'),
        '404': error('this client is not an agent'),
        ...DENIED,
      },
    },
    put: {
      summary:
        'Makes a Fineract client an agent, or changes one (threats T14, T32): the float must be an active savings account of ' +
        'that client in Fineract; limits not given keep their values (defaults for a new agent). Audited as agent.changed.',
      parameters: [clientIdParam],
      requestBody: jsonRequest({
        type: 'object',
        required: ['storeNumber', 'floatAccountNo'],
        additionalProperties: false,
        properties: {
          storeNumber: { type: 'string', pattern: '^\\d{4,10}$', examples: ['5501'] },
          floatAccountNo: { type: 'string', examples: ['000000003'] },
          status: { enum: ['active', 'suspended'] },
          limits: limitsSchema,
        },
      }),
      responses: {
        '200': { description: 'written', content: { 'application/json': { schema: agentSchema } } },
        '400': error('not that body, or limits that contradict each other'),
        '404': error('no such client, or the client has no savings account with this number'),
        '409': error('this store number belongs to another agent'),
        '422': error('the client or the float account is not active'),
        '503': error('Fineract could not be asked'),
        ...DENIED,
      },
    },
  },
};
