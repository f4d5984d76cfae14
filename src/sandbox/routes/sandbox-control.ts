import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { FAIL_MODES, type SandboxControl } from '../control.js';

/** Body of `POST /sandbox/control`; every member optional, unknown members refused. */
export const ControlRequest = z.strictObject({
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  failMode: z.enum(FAIL_MODES as [string, ...string[]]).optional(),
  /** Replaces the set of denied permission codes, e.g. `["READ_SAVINGSACCOUNT"]`. */
  deniedPermissions: z.array(z.string().regex(/^[A-Z_]{1,100}$/)).max(100).optional(),
  clearRequests: z.boolean().optional(),
  /** Back to normal service first (latency 0, failMode none, no denied permissions). */
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
): void {
  const route = `${req.method ?? 'GET'} ${path}`;
  switch (route) {
    case 'GET /sandbox/requests':
      return send(res, 200, control.requests);
    case 'DELETE /sandbox/requests':
      control.clearRequests();
      return send(res, 204);
    case 'GET /sandbox/control':
      return send(res, 200, control.state());
    case 'POST /sandbox/control': {
      const parsed = ControlRequest.safeParse(body ?? {});
      if (!parsed.success) {
        return send(res, 400, { error: 'invalid control request', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
      }
      const c = parsed.data;
      if (c.reset) control.reset();
      if (c.latencyMs !== undefined) control.latencyMs = c.latencyMs;
      if (c.failMode !== undefined) control.failMode = c.failMode as SandboxControl['failMode'];
      if (c.deniedPermissions !== undefined) {
        control.deniedPermissions.clear();
        for (const p of c.deniedPermissions) control.deniedPermissions.add(p);
      }
      if (c.clearRequests) control.clearRequests();
      return send(res, 200, control.state());
    }
    default:
      return send(res, 404, { error: 'not found', routes: ['GET /sandbox/requests', 'DELETE /sandbox/requests', 'GET /sandbox/control', 'POST /sandbox/control'] });
  }
}
