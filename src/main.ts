import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, loadConfig, settingsMarkdown, withSettingsTable } from './config.js';
import { createLogger } from './logger.js';
import { createServices, type Services } from './services.js';
import type { Logger } from './logger.js';
import { buildAdminApp, buildApp } from './app.js';
import { startSandbox } from './sandbox/server.js';
import { FlowLoadError } from './engine/flow-loader.js';
import { AUTHORING_COMMANDS, runAuthoringCommand, type AuthoringCommand } from './authoring/cli.js';
import { settlesWithin } from './time.js';
import { runAuditCommand } from './audit/cli.js';

/**
 * The `kiunga` command line: serve (default), sandbox, config. Every command reads its settings through
 * config.ts; problems are printed all at once and the exit code is non-zero.
 */

const USAGE = `usage: kiunga <command>

  serve       start the server on PORT (default 3000)
  sandbox     run the Fineract sandbox alone on SANDBOX_PORT (default 8080)
  config      print the settings table (markdown) with defaults and help
              (config --readme [README.md] rewrites the README's settings block)
  audit verify    check the audit trail: hash chain, head and signed checkpoints
                  (exit 1 naming the first bad entry); audit keygen prints a key pair

  lint [dir]      check flows and locales: names, graph, translations, screen budget
  test [dir]      run the conversation tests flows/*.test.yaml; report state coverage
  graph <flow>    draw a flow as Mermaid (or DOT/SVG) with the prompts of one locale
  simulate        a phone in the terminal, against a running or an embedded server
  schema [file]   write the JSON Schema of the flow format (editor completion)
  (kiunga <command> --help shows the options of each)

Settings come from the environment; see README.md.`;

/** Why the process stops: a signal, or an error nothing caught. */
type StopReason = NodeJS.Signals | 'fatal';

/**
 * Resolves with the first SIGTERM or SIGINT (a second one while shutting down exits at once, code 1), or with
 * `'fatal'` on the first error nothing caught (an uncaught exception, an unhandled rejection): the process then
 * drains as on a signal, so the hops in flight still get their answer, and exits 1. Such an error is logged as
 * one line through the logger (type, message, stack), never as Node's own dump, which prints every enumerable
 * field of the error (an ioredis error carries its command's arguments: keys, hashes, session records).
 */
function stopSignal(logger?: Logger): Promise<StopReason> {
  return new Promise((resolve) => {
    let received: StopReason | undefined;
    const on = (signal: NodeJS.Signals) => {
      if (received) {
        logger?.error({ signal }, 'second signal while shutting down: exiting without waiting');
        process.exit(1);
      }
      received = signal;
      resolve(signal);
    };
    const fatal = (error: unknown, origin: string) => {
      // The logger's `err` serializer writes an error's type, message and stack, never its other fields.
      const err = error instanceof Error ? error : { type: typeof error };
      if (received) {
        // The drain has its own deadlines; a later error does not cut the hops in flight short.
        logger?.error({ err, origin }, 'uncaught error while shutting down');
        return;
      }
      logger?.fatal({ err, origin }, 'uncaught error: draining, then exiting 1');
      received = 'fatal';
      resolve('fatal');
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
    process.on('uncaughtException', (error, origin) => fatal(error, origin));
    process.on('unhandledRejection', (reason) => fatal(reason, 'unhandledRejection'));
  });
}

/**
 * Serves until SIGTERM or SIGINT, then drains and resolves with the exit code: 0 when everything drained,
 * 1 when something did not (a log line names it) or when an uncaught error stopped it.
 */
async function serve(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const services = await createServices(config, logger, { watch: true });
  const app = buildApp(services);
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    if (draining) {
      // Tell keep-alive clients this connection ends with this answer; an orchestrator's probe sees 503.
      res.setHeader('connection', 'close');
      if (req.method === 'GET' && (req.url === '/readyz' || req.url?.startsWith('/readyz?'))) {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'draining' }));
        return;
      }
    }
    app(req, res);
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 15_000;
  const address = server.address();
  logger.info(
    {
      port: typeof address === 'object' && address ? address.port : config.port,
      store: services.store.kind,
      fineract: services.sandboxUrl ? 'sandbox' : 'configured',
      flows: services.flows.ids(),
    },
    'kiunga listening',
  );
  // ADMIN_PORT: the admin API on its own listener (ADMIN_HOST, default 127.0.0.1), off the public interface.
  let adminServer: Server | undefined;
  if (config.admin.listen) {
    adminServer = createServer(buildAdminApp(services));
    adminServer.requestTimeout = 15_000;
    adminServer.listen(config.admin.listen.port, config.admin.listen.host);
    await once(adminServer, 'listening');
    logger.info({ host: config.admin.listen.host, port: config.admin.listen.port }, 'admin API listening');
  }

  const signal = await stopSignal(logger);
  draining = true;
  // Answers still to come end their connection too, so no client keeps one open after the drain.
  for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  logger.info({ signal, inFlight: inFlight.size }, 'shutting down: not ready, no new connections, finishing requests in flight');
  const code = await shutdown(server, services, logger, () => inFlight.size, adminServer);
  return signal === 'fatal' ? 1 : code;
}

/**
 * The drain after a stop signal: the listener closes (new connections are refused; idle keep-alive
 * connections close), requests in flight get their answer within the hop deadline, the job queue stops
 * taking jobs and waits for its running ones (waiting and delayed jobs stay in Redis), then the rest of the
 * services close, Redis last.
 */
async function shutdown(server: Server, services: Services, logger: Logger, inFlight: () => number, adminServer?: Server): Promise<number> {
  const { config } = services;
  const undrained: string[] = [];
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // The admin listener stops taking calls too; its calls are short and end with the public ones.
  const adminClosed = adminServer ? new Promise<void>((resolve) => adminServer.close(() => resolve())) : Promise.resolve();
  // Node closes the connections idle now; these close the ones that fall idle during the drain.
  const idle = setInterval(() => {
    server.closeIdleConnections();
    adminServer?.closeIdleConnections();
  }, 50);
  // A hop answers within HOP_DEADLINE_MS of its arrival; the margin covers writing the answer.
  const drained = await settlesWithin(closed, config.hopDeadlineMs + 1000);
  clearInterval(idle);
  if (!drained) {
    undrained.push(`${inFlight()} HTTP request(s) still open after the hop deadline`);
    server.closeAllConnections();
  }
  if (!(await settlesWithin(adminClosed, 1000))) adminServer?.closeAllConnections();
  // A job's longest step is a Fineract call made on a hop's budget.
  const jobs = await services.queue.close(config.hopDeadlineMs + config.fineract.timeoutMs);
  if (jobs.running > 0)
    undrained.push(
      `${jobs.running} job(s) still running (${services.queue.kind === 'bullmq' ? 'Redis hands them to another worker' : 'lost'})`,
    );
  if (jobs.dropped > 0) undrained.push(`${jobs.dropped} waiting or delayed job(s) lost with the in-process queue`);
  await services.close();
  if (undrained.length > 0) {
    logger.error({ undrained }, 'shut down without a clean drain');
    return 1;
  }
  logger.info('shut down cleanly');
  return 0;
}

/** The Fineract sandbox alone, until SIGTERM or SIGINT. */
async function sandbox(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const running = await startSandbox({ port: config.sandboxPort, host: config.host, syntheticCustomers: config.sandboxCustomers });
  logger.info({ url: running.url, tenant: 'default', user: 'mifos' }, 'Fineract sandbox listening');
  const why = await stopSignal(logger);
  await running.close();
  return why === 'fatal' ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command = 'serve'] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve();
      case 'sandbox':
        return await sandbox();
      case 'config':
        if (argv[1] === '--readme') {
          const file = argv[2] ?? 'README.md';
          writeFileSync(file, withSettingsTable(readFileSync(file, 'utf8')));
          return 0;
        }
        process.stdout.write(`${settingsMarkdown()}\n`);
        return 0;
      case 'audit':
        return await runAuditCommand(argv.slice(1), () => {
          const { redisUrl, redisPrefix, audit } = loadConfig();
          return { redisUrl, redisPrefix, checkpointDir: audit.checkpointDir, signingKey: audit.signingKey, verifyKey: audit.verifyKey };
        });
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        if ((AUTHORING_COMMANDS as string[]).includes(command)) {
          return await runAuthoringCommand(command as AuthoringCommand, argv.slice(1));
        }
        process.stderr.write(`kiunga: unknown command '${command}'\n\n${USAGE}\n`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof FlowLoadError) {
      process.stderr.write(`kiunga: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

process.exit(await main(process.argv.slice(2)));
