import { relative } from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { createServices } from '../services.js';
import { buildFlowGraph } from './flow-graph.js';
import { readTestFiles } from './conversation-test-files.js';
import { runCase, type CaseResult } from './conversation-test-case.js';

/**
 * `kiunga test`: conversations written as data (`flows/<flow>.test.yaml`) and played against an embedded
 * server: in-process store, the built-in Fineract sandbox with its demo data, a fresh one for every case so
 * nothing leaks between cases. Each hop goes through the real turn runner; the screen must contain every
 * `expect` text. While cases run, every state the machine enters (transient ones too) is recorded, so the
 * report can say which states no case reaches, and `--generate` can propose the shortest way to each. The
 * test files are read in conversation-test-files.ts, each case played in conversation-test-case.ts, and the
 * proposed cases written in conversation-test-generator.ts.
 */

export interface Coverage {
  flowId: string;
  file: string;
  states: string[];
  reached: Set<string>;
  unreached: string[];
  /** States reached only in cases that stub an actor. */
  stubbedOnly: string[];
}

export interface TestReport {
  results: CaseResult[];
  coverage: Coverage[];
  /** Broken test files (schema, syntax, unknown flow), each with file and line. */
  problems: string[];
}

export interface TestOptions {
  flowsDir: string;
  localesDir: string;
  /**
   * The institution's settings (default: the environment's). The embedded server takes from them what shapes
   * a conversation — language, country, currency, time zone, screen budget, hop deadline, PIN lockout and
   * transfer limits — and nothing that connects it elsewhere: it always runs in-process on the sandbox.
   */
  base?: Config;
  /** Run only cases whose name contains this. */
  only?: string;
  logger?: Logger;
}

/** The settings of `base` that shape a conversation, as the environment of the embedded server. */
export function conversationSettings(base: Config): Record<string, string> {
  return {
    DEFAULT_LANGUAGE: base.defaultLanguage,
    DEFAULT_COUNTRY: base.defaultCountry,
    CURRENCY: base.currency,
    TIMEZONE: base.timezone,
    USSD_MAX_CHARS: String(base.ussd.maxChars),
    USSD_MAX_UCS2: String(base.ussd.maxUcs2),
    HOP_DEADLINE_MS: String(base.hopDeadlineMs),
    PIN_MAX_FAILURES: String(base.pin.maxFailures),
    PIN_LOCK_S: String(base.pin.lockS),
    PIN_HARD_LOCK_AFTER: String(base.pin.hardLockAfter),
    OTP_THRESHOLD: String(base.stepUp.thresholdCents / 100),
    OTP_NEW_PAYEE: String(base.stepUp.newPayee),
    // Flow tests play every keyword of a flow, the PIN keywords included, whatever the institution chose for
    // PIN-by-SMS; its refusal (sms-pin-off) is reached with a stub of verifyPin.
    SMS_PIN_ENABLED: 'true',
    TRANSFER_MIN: String(base.limits.minCents / 100),
    TRANSFER_MAX: String(base.limits.maxCents / 100),
    TRANSFER_DAILY_LIMIT: String(base.limits.dailyCents / 100),
  };
}

/** Runs every test file of `flowsDir`; never throws for a failing case. */
export async function runConversationTests(options: TestOptions): Promise<TestReport> {
  const { files, problems } = await readTestFiles(options.flowsDir);
  const settings = conversationSettings(options.base ?? loadConfig());
  const config = loadConfig({ ...settings, FLOWS_DIR: options.flowsDir, LOCALES_DIR: options.localesDir, LOG_LEVEL: 'silent' });
  const logger = options.logger ?? createLogger('silent');

  // One server to read the flows and their graphs; every case then gets its own.
  const reference = await createServices(config, logger);
  const results: CaseResult[] = [];
  const coverage: Coverage[] = [];
  try {
    const reached = new Map<string, Set<string>>();
    const reachedUnstubbed = new Map<string, Set<string>>();
    for (const id of reference.flows.ids()) {
      reached.set(id, new Set());
      reachedUnstubbed.set(id, new Set());
    }
    for (const tf of files) {
      if (!reference.flows.current(tf.flowId)) {
        problems.push(
          `${tf.file}:1: no flow '${tf.flowId}' in ${relative(process.cwd(), options.flowsDir) || '.'} (a test file is named <flow id>.test.yaml)`,
        );
        continue;
      }
      for (const [i, c] of tf.cases.entries()) {
        if (options.only && !c.name.includes(options.only)) continue;
        const visited = new Set<string>();
        const result = await runCase(config, logger, tf, c, tf.lines[i], visited);
        results.push(result);
        for (const id of visited) {
          reached.get(tf.flowId)!.add(id);
          if (result.stubbed.length === 0) reachedUnstubbed.get(tf.flowId)!.add(id);
        }
      }
    }
    for (const id of reference.flows.ids()) {
      const flow = reference.flows.current(id)!;
      const states = [...buildFlowGraph(flow.definition).states.keys()];
      const got = reached.get(id)!;
      coverage.push({
        flowId: id,
        file: flow.file,
        states,
        reached: got,
        unreached: states.filter((s) => !got.has(s)),
        stubbedOnly: states.filter((s) => got.has(s) && !reachedUnstubbed.get(id)!.has(s)),
      });
    }
  } finally {
    await reference.close();
  }
  return { results, coverage, problems };
}
