import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { TurnRunner } from './engine/turn-runner.js';
import type { KeyValueStore } from './session/store.js';
import type { Keys } from './session/keys.js';
import type { FineractClient } from './fineract/types.js';
import type { Translator } from './text/i18n.js';
import type { PinService } from './security/pin.js';
import type { ChallengeServiceRuntime } from './security/challenge.js';
import type { IdentityService } from './security/enrolment.js';
import { adminRouter, type AdminOptions } from './admin/admin-router.js';
import type { LockedCustomers } from './admin/locked-customers.js';
import type { ClockGuard } from './control/clock-guard.js';
import { FIXED_SCOPES, type SwitchBoard } from './control/switch-board.js';
import type { SwitchScope } from './control/switches.js';
import type { AuditTrail } from './audit/audit.js';
import { isAuditLog } from './audit/audit-log.js';
import { createTokenBuckets } from './limits/buckets.js';
import { countSessions } from './session/count.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { FineractGateway } from './fineract/gateway.js';
import type { SandboxOutbox } from './messaging/messenger.js';
import type { JobQueue } from './jobs/queue.js';
import type { SandboxDialer } from './messaging/dialer.js';
import { fineractHooksRouter, maskHookPath } from './hooks/fineract-hooks.js';
import { simulatorRouter } from './simulator/router.js';
import { resolve } from 'node:path';
import type { CallbackService } from './callback/callbacks.js';
import type { TransferService } from './money/transfer-service.js';
import type { AudioCatalogue } from './channels/voice-audio.js';
import { channelAdapters } from './channels/index.js';
import { channelRouter } from './channels/adapter.js';
import type { AbuseLimiter } from './limits/abuse.js';
import type { FlowCatalogue } from './channels/flow-routing.js';
import { withTimeout } from './time.js';
import type { ApprovalService } from './approvals/approval.js';
import type { MandateRegistry } from './approvals/mandates.js';
import type { ApplicationService } from './origination/applications.js';
import type { AgentRegistry } from './agents/registry.js';

/** Everything the HTTP app needs, built by `services.ts` (or by a test). */
export interface AppDeps {
  config: Config;
  logger: Logger;
  store: KeyValueStore;
  keys: Keys;
  fineract: FineractClient;
  translator: Translator;
  runner: TurnRunner;
  /** The current flows: which one answers a channel comes from their files. */
  flows: FlowCatalogue;
  pins: PinService;
  /** The Fineract gateway, for /metrics and /readyz. */
  gateway?: FineractGateway;
  /** The sandbox messenger, exposed at GET /sandbox/outbox when present. */
  outbox?: SandboxOutbox;
  /** The job queue; with it, AT SMS replies are queued for the messenger (POST /channels/africastalking/sms) and Fineract hooks are accepted (POST /hooks/fineract). */
  queue?: JobQueue;
  /** The sandbox dialer, exposed at GET /sandbox/calls when present. */
  calls?: SandboxDialer;
  /** Call-backs; with them the voice routes are served (Twilio and Africa's Talking). */
  callbacks?: CallbackService;
  /** Voice recordings (locales/audio), served at /voice/audio unless VOICE_AUDIO_URL is set. */
  voiceAudio?: AudioCatalogue;
  /** Serve the browser phone at /simulator (SIMULATOR; by default with the built-in sandbox only). */
  simulator?: { sandbox: boolean };
  /** Per-number and per-source limits on every channel route (threats T22, T28). */
  abuse?: AbuseLimiter;
  /** Lookups of unknown numbers refused by FINERACT_UNKNOWN_LOOKUP_SHARE, for /metrics. */
  unknownLookupsRefused?: () => number;
  /** Africa's Talking SIM-swap answers (`POST /channels/africastalking/sim-swap`), with SIM_SWAP_PROVIDER=africastalking. */
  simSwapCallbacks?: express.Router;
  /** Money movements: their metrics on /metrics, the uncertain ones at GET /admin/transfers. */
  transfers?: TransferService;
  /** One-time codes (T31): their metrics on /metrics. */
  challenges?: ChallengeServiceRuntime;
  /** Enrolment and the PIN lifecycle (T11): POST /admin/enrolments. */
  identity?: IdentityService;
  /** The agent registry (issue 11): PUT and GET /admin/agents/<clientId>. */
  agentRegistry?: AgentRegistry;
  /** Approvals (issue 11): GET and DELETE /admin/approvals. */
  approvals?: ApprovalService;
  /** Loan applications (issue 12): GET /admin/applications, approve, reject. */
  applications?: ApplicationService;
  /** Mandates of business accounts (issue 11): PUT and GET /admin/mandates/<accountNo>. */
  mandates?: MandateRegistry;
  /** The kill switches: obeyed by the channel routes, changed at PUT /admin/switches/<scope>, on /metrics. */
  switches?: SwitchBoard;
  /** The clock guard: /readyz answers 503 `clock: skewed` while this process's clock is off Redis's; on /metrics. */
  clock?: ClockGuard;
  /** Customers locked out by wrong PINs, for GET /admin/customers/locked. */
  lockedCustomers?: LockedCustomers;
  /** The audit trail (threat T16): admin calls and switch changes are recorded with the operator's name. */
  audit?: AuditTrail;
}

/** Largest webhook body accepted; AT and Twilio bodies are well under 4 KB (threat T22). */
const BODY_LIMIT = '16kb';

/** Builds the HTTP app from injected dependencies; it never listens by itself. */
export function buildApp(deps: AppDeps): express.Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 50 }));
  app.use(express.json({ limit: BODY_LIMIT }));

  const metrics = metricsOf(deps);
  app.use(metrics.middleware);
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const check = async (fn: () => Promise<void>) => {
      try {
        await withTimeout(fn(), 1500);
        return 'ok';
      } catch {
        return 'unavailable';
      }
    };
    const [store, fineract] = await Promise.all([check(() => deps.store.ping()), check(() => deps.fineract.ping())]);
    // Checked last, so a step during the two checks is seen.
    const clock = deps.clock?.ok() === false ? 'skewed' : 'ok';
    const ready = store === 'ok' && fineract === 'ok' && clock === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', store, storeKind: deps.store.kind, fineract, clock });
  });

  // The channel adapters, in one explicit list (src/channels/index.ts), behind the one request wrapper.
  app.use(
    channelRouter(channelAdapters({ ...deps, logger }), {
      logger,
      hopDeadlineMs: config.hopDeadlineMs,
      abuse: deps.abuse,
      switches: deps.switches,
      callbackKey: config.africastalking.callbackKey,
      twilio: { authToken: config.twilio.authToken, publicUrl: config.publicUrl },
    }),
  );
  if (deps.callbacks) {
    if (!config.voice.audioUrl) {
      app.use('/voice/audio', express.static(resolve(config.localesDir, 'audio'), { index: false, dotfiles: 'ignore', redirect: false }));
    }
  }
  if (deps.simSwapCallbacks) app.use(deps.simSwapCallbacks);
  // With ADMIN_PORT the admin API lives on its own listener (buildAdminApp) and is not served here at all.
  if (config.admin.listen) app.use('/admin', (_req, res) => void res.status(404).type('text/plain').send('not found'));
  else app.use(adminRouter(adminOptions(deps)));
  if (deps.queue) {
    app.use(
      fineractHooksRouter({
        secret: config.hookSecret,
        tenant: config.fineract.tenant,
        store: deps.store,
        keys: deps.keys,
        queue: deps.queue,
        logger,
      }),
    );
  }
  if (deps.outbox) {
    const outbox = deps.outbox;
    // Sandbox only: what would have been sent by SMS.
    app.get('/sandbox/outbox', (req, res) => {
      res.json(outbox.list(typeof req.query.to === 'string' ? req.query.to : undefined));
    });
  }
  if (deps.calls) {
    const calls = deps.calls;
    // Sandbox only: the call-backs that would have been placed.
    app.get('/sandbox/calls', (req, res) => {
      res.json(calls.list(typeof req.query.to === 'string' ? req.query.to : undefined));
    });
  }

  if (deps.simulator) {
    app.use(simulatorRouter({ config, sandbox: deps.simulator.sandbox, outbox: Boolean(deps.outbox) }));
  }

  app.use((req: Request, res: Response) => {
    res.status(404).type('text/plain').send('not found');
  });
  // Body-parser and other request errors become 4xx with a short reason; nothing reaches the client as a 5xx stack.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(error);
    // The hook path carries FINERACT_HOOK_SECRET: never log it as is.
    if (status >= 500) logger.error({ err: { type: (error as Error)?.name }, path: maskHookPath(req.path) }, 'request failed');
    else logger.warn({ status, reason: (error as { type?: string })?.type, path: maskHookPath(req.path) }, 'request refused');
    const ussd = req.path.startsWith('/channels/africastalking/ussd');
    const text = ussd ? `END ${deps.translator.t(config.defaultLanguage, 'error.generic')}` : reasonOf(status);
    res.status(status).type('text/plain').send(text);
  });
  return app;
}

/** The channels whose live sessions are counted (GET /admin/sessions/count, kiunga_sessions_active). */
const SESSION_CHANNELS = ['ussd', 'sms', 'voice'];

/** One metrics registry per set of services: /metrics on the public app and the console's summary on the admin app read the same. */
const registries = new WeakMap<AppDeps, Metrics>();

function metricsOf(deps: AppDeps): Metrics {
  const known = registries.get(deps);
  if (known) return known;
  const sessions = () => countSessions(deps.store, deps.keys, SESSION_CHANNELS);
  const metrics = createMetrics({ gateway: deps.gateway, queue: deps.queue, sessions, unknownLookupsRefused: deps.unknownLookupsRefused });
  // The modules that own a number keep its metric; the app serves them all on one registry.
  const owned = [
    deps.runner.metrics,
    deps.gateway?.metrics,
    deps.pins.metrics,
    deps.transfers?.metrics,
    deps.switches?.metrics,
    deps.clock?.metrics,
    deps.challenges?.metrics,
    deps.audit && isAuditLog(deps.audit) ? deps.audit.metrics : undefined,
  ];
  for (const metric of owned.flat()) if (metric) metrics.registry.registerMetric(metric);
  registries.set(deps, metrics);
  return metrics;
}

/** What the admin API is built with, on the public app or on its own listener. */
function adminOptions(deps: AppDeps): AdminOptions {
  const { config } = deps;
  return {
    operators: config.admin.operators,
    pins: deps.pins,
    transfers: deps.transfers,
    fineract: deps.fineract,
    switches: deps.switches,
    scopes: (): SwitchScope[] => [...FIXED_SCOPES, ...[...deps.flows.ids()].sort().map((id): SwitchScope => `flow:${id}`)],
    fourEyes: config.admin.fourEyes,
    audit: deps.audit,
    limits: { buckets: createTokenBuckets(deps.store), prefix: config.redisPrefix, perMinute: config.admin.ratePerMin },
    sessions: () => countSessions(deps.store, deps.keys, SESSION_CHANNELS),
    summary: () => metricsOf(deps).summary(),
    locked: deps.lockedCustomers,
    identity: deps.identity,
    approvals: { approvals: deps.approvals, mandates: deps.mandates },
    applications: deps.applications,
    agents: deps.agentRegistry && { registry: deps.agentRegistry, fineract: deps.fineract },
    logger: deps.logger,
  };
}

/**
 * The admin app for its own listener (ADMIN_HOST:ADMIN_PORT): the admin API, its document and console, and
 * nothing else. `kiunga serve` starts it when ADMIN_PORT is set; the public app then answers 404 for /admin.
 */
export function buildAdminApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(express.json({ limit: BODY_LIMIT }));
  app.use(adminRouter(adminOptions(deps)));
  app.use((_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('not found');
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(error);
    if (status >= 500) deps.logger.error({ err: { type: (error as Error)?.name } }, 'admin request failed');
    res.status(status).type('text/plain').send(reasonOf(status));
  });
  return app;
}

function httpStatusOf(error: unknown): number {
  const status = (error as { status?: unknown; statusCode?: unknown })?.status ?? (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

function reasonOf(status: number): string {
  if (status === 413) return 'request body too large';
  if (status === 415) return 'unsupported content type or charset';
  if (status >= 500) return 'internal error';
  return 'bad request';
}
