import { once } from 'node:events';
import type { Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, loadConfig, settingsMarkdown, withSettingsTable } from './config.js';
import { createLogger } from './logger.js';
import { createServices } from './services.js';
import { buildApp } from './app.js';
import { startSandbox } from './sandbox/server.js';
import { FlowLoadError } from './engine/flow-loader.js';
import { AUTHORING_COMMANDS, runAuthoringCommand, type AuthoringCommand } from './authoring/cli.js';

/**
 * The `kiunga` command line: serve (default), sandbox, config. Every command reads its settings through
 * config.ts; problems are printed all at once and the exit code is non-zero.
 */

const USAGE = `usage: kiunga <command>

  serve       start the server on PORT (default 3000)
  sandbox     run the Fineract sandbox alone on SANDBOX_PORT (default 8080)
  config      print the settings table (markdown) with defaults and help
              (config --readme [README.md] rewrites the README's settings block)

  lint [dir]      check flows and locales: names, graph, translations, screen budget
  test [dir]      run the conversation tests flows/*.test.yaml; report state coverage
  graph <flow>    draw a flow as Mermaid (or DOT/SVG) with the prompts of one locale
  simulate        a phone in the terminal, against a running or an embedded server
  schema [file]   write the JSON Schema of the flow format (editor completion)
  (kiunga <command> --help shows the options of each)

Settings come from the environment; see README.md.`;

async function serve(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const services = await createServices(config, logger, { watch: true });
  const app = buildApp(services);
  const server: Server = app.listen(config.port, config.host);
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
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close();
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

async function sandbox(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const running = await startSandbox({ port: config.sandboxPort, host: config.host, syntheticCustomers: config.sandboxCustomers });
  logger.info({ url: running.url, tenant: 'default', user: 'mifos' }, 'Fineract sandbox listening');
  const stop = async () => {
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

async function main(argv: string[]): Promise<number> {
  const [command = 'serve'] = argv;
  try {
    switch (command) {
      case 'serve':
        await serve();
        return -1;
      case 'sandbox':
        await sandbox();
        return -1;
      case 'config':
        if (argv[1] === '--readme') {
          const file = argv[2] ?? 'README.md';
          writeFileSync(file, withSettingsTable(readFileSync(file, 'utf8')));
          return 0;
        }
        process.stdout.write(`${settingsMarkdown()}\n`);
        return 0;
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

const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
