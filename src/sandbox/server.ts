import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { Bank, TENANT_UTC_OFFSET_MINUTES } from './bank.js';
import { CommandSource } from './command-source.js';
import { runCommand } from './commands.js';
import { SandboxHooks } from './hooks.js';
import { SandboxControl } from './control.js';
import { todayAt } from './dates.js';
import { createDemoData } from './demo-data.js';
import { addSyntheticCustomers } from './synthetic.js';
import { parseBasic, readJsonBody, write } from './http-io.js';
import { HttpError, Router, type RouteContext } from './router.js';
import { businessDateRoutes } from './routes/business-date.js';
import { clientCreationRoutes } from './routes/client-creation.js';
import { clientRoutes } from './routes/clients.js';
import { holdRoutes } from './routes/holds.js';
import { loanApplicationRoutes } from './routes/loan-applications.js';
import { loanCommandRoutes } from './routes/loan-commands.js';
import { loanRoutes } from './routes/loans.js';
import { moneyRoutes, unknownCommand } from './routes/money.js';
import { officeRoutes, productRoutes } from './routes/products.js';
import { handleControlRequest } from './routes/sandbox-control.js';
import { savingsRoutes } from './routes/savings.js';
import { transferRoutes } from './routes/transfers.js';
import { fineractError, paramError, springErrorBody } from './serialize.js';

export const API_PREFIX = '/fineract-provider/api/v1';

export interface SandboxOptions {
  /** Extra customers for load tests (see synthetic.ts). */
  syntheticCustomers?: number;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  username?: string;
  password?: string;
  tenant?: string;
  /** Initial latency added to every Fineract API answer. */
  latencyMs?: number;
  /**
   * Business date (`yyyy-mm-dd`) the demo history is relative to, and the stored BUSINESS_DATE; default: today in
   * Nairobi. It stays put while the wall clock moves on (until `POST /sandbox/control {"businessDate"}`).
   */
  businessDate?: string;
  /** Fineract's `enable_business_date` (default true here; false: writes are checked against today in Nairobi). */
  businessDateEnabled?: boolean;
  /**
   * A read instance (Fineract `fineract.mode.write-enabled=false`): writes get 405
   * `error.msg.invalid.instance.type`. Start a second sandbox with this to play a read replica; it holds its
   * own copy of the demo data and shares nothing with the writer (no replication: writes to the writer are
   * never visible on it, a permanent "replica lag").
   */
  readOnly?: boolean;
  logger?: Logger;
}

export interface Sandbox {
  /** Base URL including `/fineract-provider/api/v1`. */
  url: string;
  port: number;
  control: SandboxControl;
  /** The live data of this sandbox (tests may inspect or change it). */
  bank: Bank;
  /** Hooks registered with `POST /hooks`, delivered after each command as Fineract does (hooks.ts). */
  hooks: SandboxHooks;
  close(): Promise<void>;
}

/** Starts a Fineract 1.x stand-in with a fresh copy of the demo data. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const tenant = options.tenant ?? 'default';
  const expected = digest(`${options.username ?? 'mifos'}:${options.password ?? 'password'}`);
  const credentialsValid = (u: string, p: string): boolean => timingSafeEqual(digest(`${u}:${p}`), expected);
  const data = createDemoData(options.businessDate ?? todayAt(TENANT_UTC_OFFSET_MINUTES));
  if (options.syntheticCustomers) addSyntheticCustomers(data, options.syntheticCustomers);
  const bank = new Bank(data);
  bank.businessDateEnabled = options.businessDateEnabled ?? true;
  const control = new SandboxControl(options.latencyMs ?? 0, { readOnly: options.readOnly ?? false });
  const source = new CommandSource();
  const log = options.logger?.child({ component: 'sandbox' });
  const hooks = new SandboxHooks({
    tenant,
    user: { id: 1, username: options.username ?? 'mifos', displayName: 'App Administrator' },
    logger: log,
  });
  const router = new Router().add(
    ...clientRoutes,
    ...savingsRoutes,
    ...loanRoutes,
    ...clientCreationRoutes,
    ...loanApplicationRoutes,
    ...loanCommandRoutes,
    ...moneyRoutes,
    ...holdRoutes,
    ...transferRoutes,
    ...productRoutes,
    ...officeRoutes,
    ...businessDateRoutes,
    ...hooks.routes,
  );
  const timers = new Set<NodeJS.Timeout>();

  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const body = await readJsonBody(req);

    if (path.startsWith('/sandbox/')) return handleControlRequest(control, req, res, path, body.value, bank);

    const idempotencyKey = req.headers['idempotency-key']?.toString();
    const entry = control.record({
      method,
      path,
      query: url.search.slice(1),
      at: Date.now(),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    res.on('finish', () => {
      entry.status = res.statusCode;
      log?.debug({ method, path, status: res.statusCode }, 'sandbox request');
    });

    if (control.latencyMs > 0) await delay(control.latencyMs);
    if (control.failMode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (control.failMode === '500') {
      return write(res, 500, { Exception: 'java.lang.IllegalStateException: sandbox failure injected (failMode=500)' });
    }
    if (control.drawError()) {
      return write(res, 500, { Exception: 'java.lang.IllegalStateException: sandbox failure injected (errorRate)' });
    }
    if (!path.startsWith(`${API_PREFIX}/`)) return write(res, 404, springErrorBody(404, 'Not Found', path));

    // TenantAwareBasicAuthenticationFilter: the tenant first (header, then query parameter), then credentials.
    const tenantId = req.headers['fineract-platform-tenantid']?.toString().trim() || url.searchParams.get('tenantIdentifier');
    if (!tenantId || tenantId !== tenant) return write(res, 400, springErrorBody(400, 'Bad Request', path));

    const apiPath = path.slice(API_PREFIX.length);
    const matched = router.match(method, apiPath);
    const open = matched !== null && matched !== 'methodNotAllowed' && !matched.route.command && matched.route.permission === null;
    if (!open) {
      const basic = parseBasic(req.headers.authorization);
      if (!basic || !credentialsValid(basic.username, basic.password) || apiPath.startsWith('/self/')) {
        // Spring's BasicAuthenticationEntryPoint; `/self/*` is refused for a non-self-service user the same way.
        return write(res, 401, springErrorBody(401, 'Unauthorized', path), {
          'WWW-Authenticate': 'Basic realm="Fineract Platform API"',
        });
      }
    }
    // FineractInstanceModeApiFilter: a read instance serves GET only.
    if (control.readOnly && method !== 'GET' && method !== 'HEAD') {
      return write(res, 405, fineractError(405, 'error.msg.invalid.instance.type', 'Invalid instance type called in api request'));
    }
    if (matched === null) return write(res, 404, springErrorBody(404, 'Not Found', path));
    if (matched === 'methodNotAllowed') return write(res, 405, springErrorBody(405, 'Method Not Allowed', path));
    const { route, params } = matched;
    const asRead = route.command !== undefined && route.readWhen?.(url.searchParams) === true;
    const command = route.command && !asRead ? route.command(url.searchParams) : undefined;
    if (command === null) {
      const e = unknownCommand(url.searchParams);
      return write(res, e.status, e.body);
    }
    const permission = command ? `${command.action}_${command.entity}` : route.permission;
    if (permission && control.deniedPermissions.has(permission)) {
      const message = `User has no authority to: ${permission}`;
      return write(res, 403, fineractError(403, 'error.msg.not.authorized', message));
    }
    if (body.invalid) {
      const e = paramError('error.msg.invalid.request.body', 'The request body is not valid JSON.', 'body');
      return write(res, 400, e);
    }
    const ctx: RouteContext = { bank, control, params, query: url.searchParams, body: body.value, credentialsValid };

    if (route.command && command) {
      const outcome = await runCommand({ route, command, ctx, idempotencyKey, source, delay });
      if (outcome.servedFromCache) entry.servedFromCache = true;
      if (outcome.committed) entry.committed = true;
      hooks.published({
        command,
        params,
        request: body.value,
        status: outcome.status,
        body: outcome.body,
        servedFromCache: outcome.servedFromCache,
        version: control.version,
      });
      if (outcome.afterCommit?.mode === 'destroy') {
        req.socket.destroy();
        return;
      }
      if (outcome.afterCommit) await delay(outcome.afterCommit.ms);
      return write(res, outcome.status, outcome.body, { 'X-Notification-Refresh': 'false', ...outcome.headers });
    }
    try {
      const reply = route.handler(ctx);
      return write(res, reply.status, reply.body, { 'X-Notification-Refresh': 'false', ...reply.headers });
    } catch (err) {
      if (err instanceof HttpError) return write(res, err.status, err.body);
      throw err;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log?.error({ err }, 'sandbox handler failed');
      if (!res.headersSent) write(res, 500, { Exception: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  log?.info({ port, host, readOnly: control.readOnly }, 'Fineract sandbox listening');
  hooks.endpoint = `http://${urlHost}:${port}${API_PREFIX}/`;

  return {
    url: `http://${urlHost}:${port}${API_PREFIX}`,
    port,
    control,
    bank,
    hooks,
    close: () =>
      new Promise<void>((resolve, reject) => {
        hooks.close();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
