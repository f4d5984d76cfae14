import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { SMS_MAX_PARTS } from '../constants.js';
import { lint } from './lint.js';
import { readFineractProducts } from './lint-catalogue.js';
import { formatLintMessage, summary } from './lint-report.js';
import { flowJsonSchema } from './schema.js';
import { writeRegistryReference } from './registry-docs.js';
import { int, parse, processIo, UsageError, type CliIo } from './cli-args.js';

/**
 * The flow authors' commands of the `kiunga` CLI: lint, test, graph, simulate, schema. Each returns its exit
 * code (0 ok, 1 problems found, 2 usage error); output goes through `io` so tests can run them in-process.
 */

export const USAGES = {
  lint: `usage: kiunga lint [flows-dir] [--locales dir] [--max-chars n] [--max-ucs2 n] [--sms-segments n] [--errors-only] [--fineract]

  Checks every flow and locale: schema and names, unreachable states, loops with no way out, menus with no
  way back, missing translations, undeclared {{variables}}, non-GSM characters, and the worst-case size of
  every screen in every locale (USSD: 182 septets / 80 UCS-2, paging included; SMS: 2 segments).
  Exit code 1 when there are errors (warnings alone exit 0).`,
  test: `usage: kiunga test [flows-dir] [--locales dir] [--generate] [--case name]

  Runs the conversation tests flows/<flow>.test.yaml against an embedded server and sandbox (a fresh one
  per case), then reports the states no case reaches. --generate prints a test case skeleton with the
  shortest path to each unreached state.`,
  graph: `usage: kiunga graph <flow> [--lang en] [--format mermaid|dot|svg] [--out file] [--flows dir] [--locales dir]

  The statechart of a flow with the prompts of one locale: Mermaid (stateDiagram-v2) by default, Graphviz
  DOT, or SVG (needs Graphviz 'dot' on the PATH).`,
  simulate: `usage: kiunga simulate [--url http://host:port] [--msisdn +254711000001] [--code *384*123#] [--key callback-key]

  A phone in the terminal: dial, read the screen, type answers. Against a running server (--url) or an
  embedded one with the sandbox (no --url). Type /help inside for commands.`,
  schema: `usage: kiunga schema [file] | kiunga schema --docs [docs/flows.md]

  Writes the JSON Schema of the flow format (for editor completion) to file, or to standard output; the
  names of actions, guards, actors, flags and error codes come from the registry's manifests. --docs
  rewrites the generated reference of those names in docs/flows.md instead.`,
} as const;

export type AuthoringCommand = keyof typeof USAGES;
export const AUTHORING_COMMANDS = Object.keys(USAGES) as AuthoringCommand[];

/** Runs one authoring command; resolves with the exit code. */
export async function runAuthoringCommand(command: AuthoringCommand, args: string[], io: CliIo = processIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(`${USAGES[command]}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'lint':
        return await lintCommand(args, io);
      case 'schema':
        return await schemaCommand(args, io);
      case 'test':
        return await (await import('./test-command.js')).testCommand(args, io);
      case 'graph':
        return await (await import('./graph.js')).graphCommand(args, io);
      case 'simulate':
        return await (await import('./simulate.js')).simulateCommand(args, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`kiunga ${command}: ${error.message}\n\n${USAGES[command]}\n`);
      return 2;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      io.stderr(`kiunga ${command}: no such directory or file: ${(error as NodeJS.ErrnoException).path}\n`);
      return 2;
    }
    if (error instanceof Error && /^locales: /.test(error.message)) {
      io.stderr(`kiunga ${command}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

export { UsageError, parse as parseCommandArgs, int as intOption, processIo, type CliIo };

async function lintCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    locales: { type: 'string' },
    'max-chars': { type: 'string' },
    'max-ucs2': { type: 'string' },
    'sms-segments': { type: 'string' },
    'errors-only': { type: 'boolean' },
    fineract: { type: 'boolean' },
  });
  if (positionals.length > 1) throw new UsageError('at most one flows directory');
  const config = loadConfig(io.env);
  const report = await lint({
    ...(values.fineract ? { products: await readFineractProducts(config) } : {}),
    // A flows directory given names its own catalogue; otherwise the one the server would load.
    ...(positionals[0] === undefined ? { catalogueFile: resolve(config.catalogueFile) } : {}),
    flowsDir: resolve(positionals[0] ?? config.flowsDir),
    localesDir: resolve(values.locales ?? config.localesDir),
    fallback: config.defaultLanguage,
    limits: {
      'GSM-7': int(values['max-chars'], 'max-chars', config.ussd.maxChars),
      'UCS-2': int(values['max-ucs2'], 'max-ucs2', config.ussd.maxUcs2),
    },
    smsSegments: int(values['sms-segments'], 'sms-segments', SMS_MAX_PARTS),
  });
  for (const m of report.messages) {
    if (values['errors-only'] && m.severity !== 'error') continue;
    io.stdout(`${formatLintMessage(m)}\n`);
  }
  io.stdout(`kiunga lint: ${summary(report)}\n`);
  return report.errors > 0 ? 1 : 0;
}

async function schemaCommand(args: string[], io: CliIo): Promise<number> {
  const docs = args.includes('--docs');
  const { positionals } = parse(
    args.filter((a) => a !== '--docs'),
    {},
  );
  if (positionals.length > 1) throw new UsageError('at most one output file');
  if (docs) {
    const file = positionals[0] ?? 'docs/flows.md';
    const changed = await writeRegistryReference(file);
    io.stderr(`kiunga schema: ${changed ? 'rewrote' : 'already current:'} the registry reference in ${file}
`);
    return 0;
  }
  const text = `${JSON.stringify(flowJsonSchema(), null, 2)}\n`;
  if (positionals[0]) {
    await writeFile(positionals[0], text);
    io.stderr(`kiunga schema: wrote ${positionals[0]}\n`);
  } else io.stdout(text);
  return 0;
}
