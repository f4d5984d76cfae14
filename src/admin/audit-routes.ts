import { once } from 'node:events';
import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/audit.js';
import { isAuditLog } from '../audit/audit-log.js';
import { STREAM_ID } from '../audit/stream.js';
import { DENIED, error } from './openapi-parts.js';

/**
 * The audit trail for operators (threat T16), mounted by the admin router behind its gate (operator token,
 * rate limits; each call is itself audited):
 *
 * - `GET /admin/audit?after=<stream id>&limit=<1..500, default 50>`: a page of entries, oldest first, and
 *   `next` (the id to ask after) while there are more;
 * - `GET /admin/audit/export`: every entry as NDJSON, read from Redis page by page as the client takes them;
 *   a read that fails midway breaks the connection, so a cut-off export never looks complete;
 * - `GET /admin/audit/verify`: what `kiunga audit verify` says (chain, head, signed checkpoints).
 *
 * Each entry is `{id, hash, entry}`: the stream id, the SHA-256 stored with it, and the entry (whose
 * canonical JSON gives that hash). Nothing in an entry is secret: phone numbers are masked when written.
 */

export interface AuditRouteDeps {
  /** The trail; routes are served only when it can be read back (the one `createAuditTrail` builds). */
  audit?: AuditTrail;
  logger: Logger;
}

const MAX_LIMIT = 500;
const EXPORT_PAGE = 500;

/** Registers the audit routes on `router` (after the admin gate). */
export function mountAuditRoutes(router: Router, deps: AuditRouteDeps): void {
  const log = deps.audit;
  if (!log || !isAuditLog(log)) return;
  const { logger } = deps;
  const unavailable = (res: Response, error: unknown) => {
    logger.warn({ err: { type: (error as Error)?.name } }, 'audit trail not readable');
    res.status(503).json({ error: 'the audit trail could not be read; try again' });
  };

  router.get('/admin/audit', async (req: Request, res: Response) => {
    const after = req.query.after;
    const limitText = req.query.limit ?? '50';
    if (after !== undefined && (typeof after !== 'string' || !STREAM_ID.test(after))) {
      return void res.status(400).json({ error: 'after must be a stream id (<ms>-<n>)' });
    }
    if (typeof limitText !== 'string' || !/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) {
      return void res.status(400).json({ error: `limit must be a whole number from 1 to ${MAX_LIMIT}` });
    }
    try {
      res.json(await log.page(after, Number(limitText)));
    } catch (error) {
      unavailable(res, error);
    }
  });

  router.get('/admin/audit/export', async (_req: Request, res: Response) => {
    const entries = log.entries(EXPORT_PAGE);
    let first: IteratorResult<unknown>;
    try {
      first = await entries.next();
    } catch (error) {
      return void unavailable(res, error);
    }
    res.status(200).type('application/x-ndjson').setHeader('content-disposition', 'attachment; filename="kiunga-audit.ndjson"');
    try {
      for (let next = first; !next.done; next = await entries.next()) {
        if (res.destroyed) return void (await entries.return(undefined));
        if (!res.write(`${JSON.stringify(next.value)}\n`)) await once(res, 'drain');
      }
      res.end();
    } catch (error) {
      logger.warn({ err: { type: (error as Error)?.name } }, 'audit export cut off');
      res.destroy();
    }
  });

  router.get('/admin/audit/verify', async (_req: Request, res: Response) => {
    try {
      res.json(await log.verify());
    } catch (error) {
      unavailable(res, error);
    }
  });
}

const auditRecord = {
  type: 'object',
  required: ['id', 'hash', 'entry'],
  properties: {
    id: { type: 'string', description: 'stream id', examples: ['1764748800000-0'] },
    hash: { type: 'string', description: 'SHA-256 (hex) of the canonical JSON of entry', pattern: '^[0-9a-f]{64}$' },
    entry: {
      type: 'object',
      required: ['seq', 'at', 'type', 'actor', 'prev'],
      properties: {
        seq: { type: 'integer', minimum: 1 },
        at: { type: 'string', format: 'date-time' },
        type: { type: 'string', examples: ['money.attempt', 'pin.failed', 'switch.changed', 'admin.call'] },
        actor: { type: 'string', examples: ['customer:1', 'operator:amina', 'system'] },
        clientId: { type: 'integer' },
        msisdn: { type: 'string', description: 'masked', examples: ['+2547******01'] },
        channel: { type: 'string' },
        data: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
        prev: { type: 'string', description: 'hash of the entry before (64 zeros before entry 1)' },
      },
    },
  },
};

/** The audit routes in OpenAPI 3.1, for the admin API's document (`openapi.ts`). */
export const AUDIT_OPENAPI_PATHS: Record<string, Record<string, unknown>> = {
  '/admin/audit': {
    get: {
      summary: 'A page of the hash-chained audit trail (threat T16), oldest first',
      parameters: [
        {
          name: 'after',
          in: 'query',
          schema: { type: 'string', pattern: '^\\d{1,20}-\\d{1,20}$' },
          description: 'stream id to read after',
        },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 50 } },
      ],
      responses: {
        '200': {
          description: 'OK',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  entries: { type: 'array', items: auditRecord },
                  next: { type: 'string', description: 'the `after` of the next page; absent on the last page' },
                },
              },
            },
          },
        },
        '400': error('after is not a stream id, or limit is not 1 to 500'),
        '503': error('the audit trail could not be read'),
        ...DENIED,
      },
    },
  },
  '/admin/audit/export': {
    get: {
      summary: 'Every audit entry as NDJSON (one {id, hash, entry} per line), streamed; a read failure breaks the connection',
      responses: {
        '200': { description: 'OK', content: { 'application/x-ndjson': { schema: auditRecord } } },
        '503': error('the audit trail could not be read'),
        ...DENIED,
      },
    },
  },
  '/admin/audit/verify': {
    get: {
      summary: 'Checks the audit trail as `kiunga audit verify` does: hashes, links, sequence, head, signed checkpoints',
      responses: {
        '200': {
          description: 'the verdict (ok false names the first bad entry)',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['ok', 'entries', 'checkpoints'],
                properties: {
                  ok: { type: 'boolean' },
                  entries: { type: 'integer' },
                  checkpoints: { type: 'integer' },
                  problem: {
                    type: 'object',
                    properties: {
                      seq: { type: 'integer' },
                      id: { type: 'string' },
                      kind: { enum: ['edited', 'deleted', 'reordered', 'truncated', 'bad-signature'] },
                      message: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
        '503': error('the audit trail could not be read'),
        ...DENIED,
      },
    },
  },
};
