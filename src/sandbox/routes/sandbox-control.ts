import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Bank } from '../bank.js';
import { isIsoDate } from '../dates.js';
import { FAIL_MODES, SANDBOX_VERSIONS, type SandboxControl } from '../control.js';

const ms = z.number().int().min(0).max(600_000);

/** Body of `POST /sandbox/control`; every member optional, unknown members refused. See `SandboxControl`. */
export const ControlRequest = z.strictObject({
  latencyMs: ms.optional(),
  failMode: z.enum(FAIL_MODES as [string, ...string[]]).optional(),
  /** Replaces the set of denied permission codes, e.g. `["READ_SAVINGSACCOUNT"]`. */
  deniedPermissions: z
    .array(z.string().regex(/^[A-Z_]{1,100}$/))
    .max(100)
    .optional(),
  /** Probability 0..1 of a 500 `{"Exception": ...}` per API request. */
  errorRate: z.number().min(0).max(1).optional(),
  /** Restarts the error-rate PRNG (same seed, same requests fail). */
  seed: z.number().int().min(0).max(0xffff_ffff).optional(),
  /** `1.8` ignores `Idempotency-Key`. */
  version: z.enum(SANDBOX_VERSIONS as [string, ...string[]]).optional(),
  /** Writes answer 405 `error.msg.invalid.instance.type`. */
  readOnly: z.boolean().optional(),
  /** Writes answer 200 `{commandId, rollbackTransaction: true}` and move nothing. */
  makerChecker: z.boolean().optional(),
  /** Loan writes answer 409 `error.msg.loan.locked`. */
  loanLocked: z.boolean().optional(),
  /** A write keeps its idempotency key "under processing" this long before committing. */
  writeLatencyMs: ms.optional(),
  /** The next `count` committed writes answer after `ms` (`delay`) or never (`destroy`); null disarms. */
  timeoutAfterCommit: z
    .strictObject({ count: z.number().int().min(1).max(10_000), mode: z.enum(['delay', 'destroy']), ms: ms.default(0) })
    .nullable()
    .optional(),
  /** Fineract's stored BUSINESS_DATE (`yyyy-mm-dd`), e.g. a day behind the wall clock when close of business lags. */
  businessDate: z.string().refine(isIsoDate, 'must be a date yyyy-mm-dd').optional(),
  /** Fineract's `enable_business_date`; off: writes are checked against today in the tenant's zone. */
  businessDateEnabled: z.boolean().optional(),
  clearRequests: z.boolean().optional(),
  /** Back to normal service first (no latency, failures or faults, version 1.10, no denied permissions). */
  reset: z.boolean().optional(),
});

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

/**
 * `/sandbox/*`: the sandbox's own control API, outside the Fineract prefix, without authentication
 * (sandbox only; bind it to localhost). Never delayed, failed or logged.
 */
export function handleControlRequest(
  control: SandboxControl,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  body: unknown,
  bank?: Bank,
): void {
  const state = () => ({
    ...control.state(),
    ...(bank ? { businessDate: bank.data.businessDate, businessDateEnabled: bank.businessDateEnabled } : {}),
  });
  const route = `${req.method ?? 'GET'} ${path}`;
  switch (route) {
    case 'GET /sandbox/requests':
      return send(res, 200, control.requests);
    case 'DELETE /sandbox/requests':
      control.clearRequests();
      return send(res, 204);
    case 'GET /sandbox/control':
      return send(res, 200, state());
    case 'POST /sandbox/control': {
      const parsed = ControlRequest.safeParse(body ?? {});
      if (!parsed.success) {
        return send(res, 400, {
          error: 'invalid control request',
          issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        });
      }
      const c = parsed.data;
      if (c.reset) control.reset();
      if (c.latencyMs !== undefined) control.latencyMs = c.latencyMs;
      if (c.failMode !== undefined) control.failMode = c.failMode as SandboxControl['failMode'];
      if (c.deniedPermissions !== undefined) {
        control.deniedPermissions.clear();
        for (const p of c.deniedPermissions) control.deniedPermissions.add(p);
      }
      if (c.errorRate !== undefined) control.errorRate = c.errorRate;
      if (c.seed !== undefined) control.seed = c.seed;
      if (c.version !== undefined) control.version = c.version as SandboxControl['version'];
      if (c.readOnly !== undefined) control.readOnly = c.readOnly;
      if (c.makerChecker !== undefined) control.makerChecker = c.makerChecker;
      if (c.loanLocked !== undefined) control.loanLocked = c.loanLocked;
      if (c.writeLatencyMs !== undefined) control.writeLatencyMs = c.writeLatencyMs;
      if (c.timeoutAfterCommit !== undefined) control.timeoutAfterCommit = c.timeoutAfterCommit;
      if (c.clearRequests) control.clearRequests();
      if (bank && c.businessDate !== undefined) bank.data.businessDate = c.businessDate;
      if (bank && c.businessDateEnabled !== undefined) bank.businessDateEnabled = c.businessDateEnabled;
      return send(res, 200, state());
    }
    default:
      return send(res, 404, {
        error: 'not found',
        routes: ['GET /sandbox/requests', 'DELETE /sandbox/requests', 'GET /sandbox/control', 'POST /sandbox/control'],
      });
  }
}
