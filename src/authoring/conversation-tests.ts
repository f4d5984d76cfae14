import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fromPromise, type AnyActorLogic, type AnyActorScope, type AnyStateMachine } from 'xstate';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { createServices, type Services } from '../services.js';
import type { LoadedFlow } from '../engine/flow-loader.js';
import { FLOW_ERROR_CODES, FlowError } from '../engine/registry.js';
import { decodeRecord } from '../engine/session-record.js';
import { buildFlowGraph, idsOfStateValue, shortestPaths, type FlowGraph, type Step } from './flow-graph.js';
import type { Translator } from '../text/i18n.js';
import { FAIL_MODES } from '../sandbox/control.js';

/**
 * `kiunga test`: conversations written as data (`flows/<flow>.test.yaml`) and played against an embedded
 * server: in-process store, the built-in Fineract sandbox with its demo data, a fresh one for every case so
 * nothing leaks between cases. Each hop goes through the real turn runner; the screen must contain every
 * `expect` text. While cases run, every state the machine enters (transient ones too) is recorded, so the
 * report can say which states no case reaches, and `--generate` can propose the shortest way to each.
 */

const sandboxSchema = z.strictObject({
  /** `500` makes every Fineract call fail; `reset` drops the connection; `none` heals. */
  failMode: z.enum(FAIL_MODES).optional(),
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  /** Fineract permission codes answered with 403, e.g. READ_SAVINGSACCOUNT. */
  deniedPermissions: z.array(z.string().regex(/^[A-Z_]+$/)).optional(),
});

const stubSchema = z.union([
  z.strictObject({ reject: z.enum(FLOW_ERROR_CODES), details: z.record(z.string(), z.union([z.string(), z.number()])).optional() }),
  z.strictObject({ resolve: z.unknown() }),
]);

const hopSchema = z.strictObject({
  /**
   * What the customer sends; `null` dials (the first hop; later, a new session: the customer dials again).
   * `{{code}}` sends the last one-time code the sandbox outbox holds for the customer (the code by SMS).
   */
  send: z.union([z.string().min(1).max(182), z.null()]),
  /** Texts the screen must contain. */
  expect: z.array(z.string().min(1)).default([]),
  /** Texts the screen must not contain. */
  absent: z.array(z.string().min(1)).optional(),
  /** The session ends with this screen (END); default false (CON). */
  end: z.boolean().default(false),
  /** The state the flow rests in after this hop, e.g. `menu`. */
  state: z.string().optional(),
  /** Sandbox behaviour from this hop on. */
  sandbox: sandboxSchema.optional(),
});

const caseSchema = z.strictObject({
  name: z.string().min(1),
  /** `sms`: every hop is one inbound message, its own short session (as the SMS routes run them). */
  channel: z.enum(['ussd', 'sms']).default('ussd'),
  /** The language the customer chose earlier (default: DEFAULT_LANGUAGE). */
  lang: z
    .string()
    .regex(/^[a-z]{2}$/)
    .optional(),
  msisdn: z.string().regex(/^\+\d{7,15}$/, 'must be an E.164 number like +254711000001'),
  /** Sandbox behaviour from the dial on. */
  sandbox: sandboxSchema.optional(),
  /**
   * Named actors replaced for this case, for outcomes the sandbox cannot produce:
   * `{ findCustomer: { reject: inactive } }` or `{ fetchBalances: { resolve: [] } }`.
   */
  stubs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), stubSchema).optional(),
  hops: z.array(hopSchema).min(1),
});

export const testFileSchema = z.array(caseSchema).min(1);
export type ConversationCase = z.infer<typeof caseSchema>;
export type ConversationHop = z.infer<typeof hopSchema>;

export interface TestFile {
  file: string;
  flowId: string;
  cases: ConversationCase[];
  /** Line of case n in the file. */
  lines: number[];
}

export interface CaseResult {
  file: string;
  flowId: string;
  name: string;
  line?: number;
  passed: boolean;
  hops: number;
  ms: number;
  failure?: { hop: number; send: string | null; problems: string[]; screen?: { end: boolean; text: string }; state?: string };
  /** Actors the case replaced (its states are reached with help). */
  stubbed: string[];
}

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

export async function readTestFiles(flowsDir: string): Promise<{ files: TestFile[]; problems: string[] }> {
  const names = (await readdir(flowsDir)).filter((n) => /\.test\.ya?ml$/.test(n)).sort();
  const files: TestFile[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const path = join(flowsDir, name);
    const file = relative(process.cwd(), path) || name;
    const lineCounter = new LineCounter();
    const doc = parseDocument(await readFile(path, 'utf8'), { lineCounter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push(`${file}:${lineCounter.linePos(e.pos[0]).line}: syntax error: ${e.message.split('\n')[0]}`);
      continue;
    }
    const lineOf = (path: (string | number)[]) => {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true);
        if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    };
    const parsed = testFileSchema.safeParse(doc.toJS());
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        const p = i.path.map((x) => (typeof x === 'symbol' ? String(x) : x));
        problems.push(`${file}:${lineOf(p) ?? 1} ${p.join('.')}: ${i.message}`);
      }
      continue;
    }
    let ok = true;
    parsed.data.forEach((c, i) => {
      c.hops.forEach((h, j) => {
        if (c.channel === 'sms') {
          // Every SMS is its own session: each hop sends a message, and each may end.
          if (h.send === null) {
            problems.push(`${file}:${lineOf([i, 'hops', j, 'send'])} ${i}.hops.${j}.send: an SMS hop sends a message (no dialing)`);
            ok = false;
          }
          return;
        }
        if (j === 0 && h.send !== null) {
          problems.push(`${file}:${lineOf([i, 'hops', j, 'send'])} ${i}.hops.${j}.send: the first hop must dial (send: null)`);
          ok = false;
        }
        // A later dial is a new session (the customer dials again), so an END may come before it.
        if (h.end && j < c.hops.length - 1 && c.hops[j + 1]!.send !== null) {
          problems.push(
            `${file}:${lineOf([i, 'hops', j, 'end'])} ${i}.hops.${j}.end: the session ends here, but more hops follow (dial again with send: null)`,
          );
          ok = false;
        }
      });
    });
    if (ok) {
      files.push({
        file,
        flowId: basename(name).replace(/\.test\.ya?ml$/, ''),
        cases: parsed.data,
        lines: parsed.data.map((_, i) => lineOf([i]) ?? 1),
      });
    }
  }
  return { files, problems };
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

async function runCase(
  config: ReturnType<typeof loadConfig>,
  logger: Logger,
  tf: TestFile,
  c: ConversationCase,
  line: number | undefined,
  visited: Set<string>,
): Promise<CaseResult> {
  const started = Date.now();
  const result: CaseResult = {
    file: tf.file,
    flowId: tf.flowId,
    name: c.name,
    line,
    passed: false,
    hops: 0,
    ms: 0,
    stubbed: Object.keys(c.stubs ?? {}),
  };
  let services: Services | undefined;
  try {
    services = await createServices(config, logger);
    const flow = services.flows.current(tf.flowId)!;
    // The last state value the machine entered in a hop: an ended session's record keeps no machine to read it from.
    let entered: unknown;
    const onValue = (value: unknown) => {
      entered = value;
      idsOfStateValue(value).forEach((id) => visited.add(id));
    };
    services.flows.install(new Map([[flow.id, instrument(flow, stubActors(c.stubs ?? {}), onValue)]]));
    if (c.lang) await services.store.set(services.keys.language(c.msisdn), c.lang);
    applySandbox(services, c.sandbox);
    const newSessionId = () => `test:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}`;
    let sessionId = newSessionId();
    for (const [j, hop] of c.hops.entries()) {
      applySandbox(services, hop.sandbox);
      if (j > 0 && (c.channel === 'sms' || hop.send === null)) sessionId = newSessionId();
      const sent = hop.send === CODE_TOKEN ? await lastSmsCode(services, c.msisdn) : hop.send;
      entered = undefined;
      const reply = await services.runner.run(
        {
          channel: c.channel,
          sessionId,
          msisdn: c.msisdn,
          serviceCode: '*384*123#',
          flowId: tf.flowId,
          hopKey: `hop-${j}`,
          inputs: () => ({ inputs: sent === null ? (c.channel === 'sms' ? [''] : []) : [sent], transport: null }),
        },
        Date.now() + config.hopDeadlineMs,
      );
      result.hops = j + 1;
      const state = (await restingState(services, c.channel, sessionId)) ?? (reply.end ? deepestState(entered) : undefined);
      const problems: string[] = [];
      for (const text of hop.expect)
        if (!reply.text.includes(text)) problems.push(`expected the screen to contain ${JSON.stringify(text)}`);
      for (const text of hop.absent ?? [])
        if (reply.text.includes(text)) problems.push(`expected the screen not to contain ${JSON.stringify(text)}`);
      if (reply.end !== hop.end)
        problems.push(hop.end ? 'expected the session to end here (END)' : 'expected the session to go on (CON), but it ended');
      if (hop.state !== undefined && hop.state !== state)
        problems.push(`expected to rest in state '${hop.state}', but it rests in '${state ?? '(none)'}'`);
      if (problems.length > 0) {
        result.failure = { hop: j + 1, send: hop.send, problems, screen: reply, state };
        return result;
      }
    }
    result.passed = true;
    return result;
  } catch (error) {
    result.failure = {
      hop: result.hops + 1,
      send: c.hops[result.hops]?.send ?? null,
      problems: [`crashed: ${(error as Error).stack ?? String(error)}`],
    };
    return result;
  } finally {
    result.ms = Date.now() - started;
    await services?.close();
  }
}

/** The hop text that sends the last one-time code sent to the customer by SMS. */
export const CODE_TOKEN = '{{code}}';

/**
 * The last one-time code the sandbox outbox holds for `msisdn` (its SMS are the `otp-` ones), waiting a little
 * for the `otp` job that sends it. The code never appears in the report: a failing hop shows `{{code}}`.
 */
async function lastSmsCode(services: Services, msisdn: string): Promise<string> {
  const outbox = services.outbox;
  if (!outbox) throw new Error('{{code}} needs the sandbox outbox (MESSAGING_PROVIDER=sandbox)');
  for (let waited = 0; waited < 3000; waited += 20) {
    const sms = outbox
      .list(msisdn)
      .filter((m) => m.ref?.startsWith('otp-'))
      .pop();
    const code = sms && /\b(\d{6})\b/.exec(sms.text)?.[1];
    if (code) return code;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no one-time code was sent by SMS to ${msisdn}`);
}

function applySandbox(services: Services, options: ConversationCase['sandbox']): void {
  if (!options) return;
  const control = services.sandbox?.control;
  if (!control) throw new Error('sandbox options need the built-in sandbox');
  if (options.failMode !== undefined) control.failMode = options.failMode;
  if (options.latencyMs !== undefined) control.latencyMs = options.latencyMs;
  if (options.deniedPermissions !== undefined) {
    control.deniedPermissions.clear();
    for (const p of options.deniedPermissions) control.deniedPermissions.add(p);
  }
}

/** The deepest state the session rests in, from its persisted snapshot (none once the session ended). */
async function restingState(services: Services, channel: ConversationCase['channel'], sessionId: string): Promise<string | undefined> {
  const raw = await services.store.get(services.keys.session(channel, sessionId));
  if (!raw) return undefined;
  return deepestState((decodeRecord(raw).snapshot as { value?: unknown } | null | undefined)?.value);
}

/** The deepest state of a state value. */
function deepestState(value: unknown): string | undefined {
  const ids = idsOfStateValue(value);
  return ids.sort((a, b) => b.split('.').length - a.split('.').length)[0];
}

/** Actors replaced by a case: they resolve with the given output or reject with a FlowError of that code. */
function stubActors(stubs: NonNullable<ConversationCase['stubs']>): Record<string, AnyActorLogic> {
  return Object.fromEntries(
    Object.entries(stubs).map(([name, stub]) => [
      name,
      fromPromise(async () => {
        if ('reject' in stub) throw new FlowError(stub.reject, stub.details ?? {});
        return stub.resolve;
      }),
    ]),
  );
}

/**
 * The flow with some actors replaced, and a machine that reports every state value it enters: each macrostep's
 * microsteps (eventless steps included) through the actor system's inspection, and every snapshot it returns.
 */
export function instrument(flow: LoadedFlow, actors: Record<string, AnyActorLogic>, onValue: (value: unknown) => void): LoadedFlow {
  const machine = flow.machine.provide({ actors } as never) as AnyStateMachine;
  const watched = new WeakSet<object>();
  const watch = (scope: AnyActorScope) => {
    if (watched.has(scope.system)) return;
    watched.add(scope.system);
    scope.system.inspect((event) => {
      if (event.type === '@xstate.microstep' && event.actorRef === scope.self) onValue((event.snapshot as { value?: unknown }).value);
    });
  };
  const m = machine as unknown as {
    getInitialSnapshot: (scope: AnyActorScope, input: unknown) => { value: unknown };
    restoreSnapshot: (snapshot: unknown, scope: AnyActorScope) => unknown;
    transition: (snapshot: unknown, event: unknown, scope: AnyActorScope) => { value: unknown };
  };
  const { getInitialSnapshot, restoreSnapshot, transition } = m;
  m.getInitialSnapshot = (scope, input) => {
    watch(scope);
    const snapshot = getInitialSnapshot(scope, input);
    onValue(snapshot.value);
    return snapshot;
  };
  m.restoreSnapshot = (snapshot, scope) => {
    watch(scope);
    return restoreSnapshot(snapshot, scope);
  };
  m.transition = (snapshot, event, scope) => {
    const next = transition(snapshot, event, scope);
    onValue(next.value);
    return next;
  };
  return { ...flow, machine };
}

// ---------------------------------------------------------------------------------------------------------
// Generating cases for unreached states

const SAMPLE_INPUT: Record<string, string> = { pin: '1234', code: '123456', digits: '1', amount: '100', phone: '0711000002', text: 'text' };

/** The start of a prompt's text, up to its first variable: something a screen surely contains. */
export function promptExcerpt(translator: Translator, lang: string, key: string | undefined): string | undefined {
  if (!key) return undefined;
  const template = translator.template(lang, key) ?? translator.template(translator.fallback, key);
  let head = template?.split('{{')[0]?.split('\n')[0]?.trim() ?? '';
  if (head.length > 40) head = head.slice(0, 41).replace(/\s+\S*$/, '');
  head = head.replace(/[\s.:,;(]+$/, '');
  return head.length >= 3 ? head : undefined;
}

const quote = (s: string) => JSON.stringify(s);

/** YAML test cases (with comments on what each step needs) reaching each state in `targets` by a shortest path. */
export function generateCases(graph: FlowGraph, targets: string[], translator: Translator, lang: string): string {
  const paths = shortestPaths(graph);
  const leafOf = (id: string) => [...paths.keys()].find((leaf) => leaf === id || leaf.startsWith(`${id}.`));
  const out: string[] = [];
  const chosen = new Map<string, Step[]>();
  for (const target of targets) {
    const leaf = leafOf(target);
    if (leaf) chosen.set(target, paths.get(leaf)!);
    else out.push(`# ${target}: no path reaches it from the start of the flow (see kiunga lint)`);
  }
  // A state passed on the way to another generated case needs no case of its own.
  const passed = (path: Step[]) => new Set(path.flatMap((s) => s.to.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))));
  for (const [target, path] of [...chosen]) {
    const elsewhere = [...chosen].some(([other, p]) => other !== target && p.length > path.length && passed(p).has(target));
    if (elsewhere) chosen.delete(target);
  }
  for (const [target, path] of chosen) {
    const hops = groupHops(path);
    out.push(
      `- name: reach ${target}`,
      `  lang: ${lang}`,
      `  msisdn: "+254711000001"   # a customer for whom every step below happens`,
      '  hops:',
    );
    for (const hop of hops) {
      for (const note of hop.notes) out.push(`    # ${note}`);
      const rest = graph.states.get(hop.restsIn);
      const excerpt = promptExcerpt(translator, lang, rest?.screen?.meta.prompt);
      const send = hop.send === null ? 'null' : quote(hop.send);
      const end = rest?.final ? ', end: true' : '';
      const state = rest?.resting ? `, state: ${hop.restsIn}` : '';
      out.push(`    - { send: ${send}, expect: [${excerpt ? quote(excerpt) : ''}]${end}${state} }`);
    }
  }
  return `${out.join('\n')}\n`;
}

interface GeneratedHop {
  send: string | null;
  notes: string[];
  restsIn: string;
}

/** Splits a path into hops: each customer step starts one, followed by the steps that happen by themselves. */
function groupHops(path: Step[]): GeneratedHop[] {
  const hops: GeneratedHop[] = [];
  for (const step of path) {
    const t = step.trigger;
    const guard = step.guard ? ` when ${step.guard}` : '';
    if (t.kind === 'dial' || t.kind === 'option' || t.kind === 'choose' || t.kind === 'input' || t.kind === 'keyword') {
      const send =
        t.kind === 'dial'
          ? null
          : t.kind === 'option'
            ? t.key
            : t.kind === 'choose'
              ? '1'
              : t.kind === 'keyword'
                ? [t.word, ...t.args.map((a) => SAMPLE_INPUT[a] ?? (a === 'lang' ? 'sw' : a))].join(' ')
                : (SAMPLE_INPUT[t.input] ?? 'text');
      const notes =
        t.kind === 'option' && t.if
          ? [`option ${t.key} shows only while data.${t.if} is true`]
          : t.kind === 'input'
            ? [`${t.input} input: adjust the value`]
            : [];
      hops.push({ send, notes: step.guard ? [...notes, `takes '${step.to}'${guard}`] : notes, restsIn: step.to });
      continue;
    }
    const hop = hops[hops.length - 1]!;
    const what = t.kind === 'done' ? `${t.actor} succeeds` : t.kind === 'error' ? `${t.actor} fails` : 'eventless step';
    hop.notes.push(`${step.from} -> ${step.to}: ${what}${guard}`);
    hop.restsIn = step.to;
  }
  return hops;
}
