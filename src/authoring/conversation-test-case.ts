import { fromPromise, type AnyActorLogic, type AnyActorScope, type AnyStateMachine } from 'xstate';
import type { loadConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { createServices, type Services } from '../services.js';
import type { LoadedFlow } from '../engine/flow-loader.js';
import { FlowError } from '../engine/registry.js';
import { decodeRecord } from '../engine/session-record.js';
import { idsOfStateValue } from './flow-graph.js';
import type { ConversationCase, TestFile } from './conversation-test-files.js';

/**
 * One case of a conversation test file played (conversation-tests.ts runs them all): a fresh embedded server,
 * the case's stubs and sandbox behaviour, each hop through the real turn runner, checked against what the
 * case expects; every state the machine enters is recorded for the coverage.
 */

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

/** Plays case `c` of `tf` on a server of its own, adding every state the machine enters to `visited`; never throws. */
export async function runCase(
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
