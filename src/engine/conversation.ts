import { createActor, waitFor, type AnyActorRef, type AnyMachineSnapshot, type StateValue } from 'xstate';
import type { LoadedFlow } from './flow-loader.js';
import type { FlowInput } from './registry.js';
import { currentScreenMeta, screenChoices, turnScreen, type RestingState } from './screen.js';
import type { FlowContext, TurnScreen } from './types.js';
import { matchKeyword } from './keywords.js';
import { MONEY_ACTORS, REQUEST_ACTORS, bindHop } from './actor-kit.js';
import type { HopContext } from '../session/hop-context.js';
import { CHALLENGE_DIGITS } from '../security/challenge.js';

/**
 * One conversation's machine for the length of a hop: started fresh or restored from the persisted
 * snapshot, driven by the customer's inputs with engine-level navigation (`0` back, `00` home), and
 * persisted again only when it rests (waiting for input, or final). Paging a long screen (`98` more) is the
 * USSD presenter's, not the engine's.
 *
 * A restored conversation has no actor: its screen, choices and navigation are read from the persisted
 * snapshot, and back and home resolve the target state without running anything. An actor is created only
 * when an event is sent, since the transition may enter a state that invokes an actor (a Fineract call) and
 * that actor must run within the hop. XState's pure `transition()` is not used for events: it builds an
 * inert actor with the machine's initial snapshot on every call (which here spawns the first invoked actor),
 * and measured slower than an actor restored from the snapshot.
 *
 * The hop's context (caller, deadline, scope: session/hop-context.ts) is given at start or restore and bound to
 * each actor's system as soon as the actor is created (`bindHop`), so the flow's invoked actors get it.
 */

/**
 * Thrown when the machine did not come to rest within the hop deadline (Fineract too slow). `moneyInFlight`
 * is set when the hop was a money confirmation: money may still move, so the outcome is not known.
 */
export class HopDeadlineExceeded extends Error {
  constructor(readonly moneyInFlight = false) {
    super('hop deadline exceeded');
    this.name = 'HopDeadlineExceeded';
  }
}

/** The confirmation prompts of each flow, by state id, with the actor each confirms (`confirmStates`). */
const confirmStatesOf = new WeakMap<LoadedFlow, ReadonlyMap<string, string>>();

/**
 * The confirmation prompts of a flow, derived from the machine (threats T25, T29): each prompt state whose
 * event enters a state invoking a money actor (`MONEY_ACTORS`) or a recorded request (`REQUEST_ACTORS`), with
 * that actor's name.
 */
export function confirmStates(flow: LoadedFlow): ReadonlyMap<string, string> {
  const known = confirmStatesOf.get(flow);
  if (known) return known;
  const ids = new Map<string, string>();
  const confirmedActorOf = (node: { invoke: { src: unknown }[] }) =>
    node.invoke
      .map((i) => i.src)
      .find((src): src is string => typeof src === 'string' && (MONEY_ACTORS.has(src) || REQUEST_ACTORS.has(src)));
  for (const id of flow.screens.keys()) {
    const node = flow.machine.getStateNodeById(id);
    for (const list of node.transitions.values()) {
      for (const t of list) {
        const actor = t.target?.map(confirmedActorOf).find((src) => src !== undefined);
        if (actor && !ids.has(id)) ids.set(id, actor);
      }
    }
  }
  confirmStatesOf.set(flow, ids);
  return ids;
}

/** The keys the engine itself understands: back one screen, home. */
export interface NavigationKeys {
  back: string;
  home: string;
}

/** The part of the session record a conversation owns. */
export interface ConversationState {
  snapshot: unknown;
  /** Resting screens since home, as state values, for `0` (back). */
  history: StateValue[];
}

const INPUT_PATTERNS: Record<string, RegExp> = {
  pin: /^\d{4,6}$/,
  code: new RegExp(`^\\d{${CHALLENGE_DIGITS}}$`),
  digits: /^\d{1,20}$/,
  amount: /^\d{1,9}(\.\d{1,2})?$/,
  phone: /^\+?\d[\d ]{5,18}$/,
  text: /^[\p{L}\p{N} .,'\-/]{1,60}$/u,
};

const isRest = (s: AnyMachineSnapshot) => s.status !== 'active' || s.hasTag('prompt');
const sameValue = (a: StateValue, b: StateValue) =>
  a === b || (typeof a !== 'string' && typeof b !== 'string' && JSON.stringify(a) === JSON.stringify(b));

/** A snapshot as `getPersistedSnapshot` wrote it (only the fields read before it is restored). */
interface PersistedSnapshot extends RestingState {
  children?: Record<string, unknown>;
  historyValue?: Record<string, unknown>;
}

/**
 * True when `machine.resolveState` rebuilds exactly what restoring would: an active machine with no running
 * child and no history. Anything else is restored by an actor, as it was persisted.
 */
const plainRest = (p: PersistedSnapshot) =>
  p.status === 'active' &&
  (!p.children || Object.keys(p.children).length === 0) &&
  (!p.historyValue || Object.keys(p.historyValue).length === 0);

export class Conversation {
  /** A one-hop notice shown above the screen (invalid choice). Never persisted. */
  notice?: string;
  /** Set once this hop sent an event from a money-confirmation screen: money may move in this hop. */
  moneyHop = false;
  /** The running machine, once an event was sent (or the flow started). */
  private actor?: AnyActorRef;
  /** The machine at rest without an actor: resolved from `persisted` when first needed, or by back and home. */
  private resolved?: AnyMachineSnapshot;

  private constructor(
    readonly flow: LoadedFlow,
    public history: StateValue[],
    private readonly deadlineAt: number,
    /** The hop's context, handed to the flow's invoked actors. */
    private readonly hop: HopContext,
    /** The snapshot this hop restored, as persisted; undefined once the machine has moved. */
    private persisted?: PersistedSnapshot,
  ) {}

  /** Starts the flow and runs it to its first resting screen. */
  static async start(
    flow: LoadedFlow,
    input: FlowInput,
    deadlineAt: number,
    hop: HopContext = { deadline: deadlineAt },
  ): Promise<Conversation> {
    const c = new Conversation(flow, [], deadlineAt, hop);
    c.actor = createActor(flow.machine, { input });
    bindHop(c.actor.system, hop);
    c.actor.start();
    await c.settle();
    c.remember();
    return c;
  }

  /** Restores a persisted conversation (nothing runs: it was persisted at rest; no actor until an event). */
  static restore(flow: LoadedFlow, state: ConversationState, deadlineAt: number, hop: HopContext = { deadline: deadlineAt }): Conversation {
    const persisted = state.snapshot as PersistedSnapshot;
    const c = new Conversation(flow, state.history, deadlineAt, hop, persisted);
    if (!plainRest(persisted)) c.startActor(persisted);
    return c;
  }

  get snapshot(): AnyMachineSnapshot {
    if (this.actor) return this.actor.getSnapshot() as AnyMachineSnapshot;
    if (!this.resolved) {
      const { value, context } = this.persisted!;
      this.resolved = this.flow.machine.resolveState({ value, context });
    }
    return this.resolved;
  }

  /** The resting state: the actor's or resolved snapshot, or the persisted one while nothing moved. */
  private get state(): RestingState {
    return this.actor || this.resolved ? this.snapshot : this.persisted!;
  }

  get context(): FlowContext {
    return this.state.context as FlowContext;
  }

  get ended(): boolean {
    return this.state.status !== 'active';
  }

  /** True when the machine rests on a confirmation screen (amount and recipient shown, PIN asked). */
  get atConfirm(): boolean {
    return this.confirming !== undefined;
  }

  /**
   * The actor the screen the machine rests on confirms (`confirmStates`: one that moves money, or a recorded
   * request), if it is such a screen.
   */
  get confirming(): string | undefined {
    if (this.ended) return undefined;
    const current = currentScreenMeta(this.flow, this.state);
    return current && confirmStates(this.flow).get(current.id);
  }

  /**
   * Applies one customer input. Resolves true when the machine moved to another screen (an event, back or
   * home), false when the input only set a notice or was not understood.
   */
  async apply(input: string, keys: NavigationKeys): Promise<boolean> {
    this.notice = undefined;
    const current = currentScreenMeta(this.flow, this.state);
    const meta = current?.meta;
    const choices = meta ? screenChoices(meta, this.context) : [];
    const optionKeys = new Set(choices.map((c) => c.key));
    const reserved = (key: string) => input === key && !optionKeys.has(key);

    if (reserved(keys.back) && this.history.length > 1) {
      this.history.pop();
      this.jumpTo(this.history[this.history.length - 1]!);
      return true;
    }
    const confirmed = current && confirmStates(this.flow).get(current.id);
    const confirming = confirmed !== undefined && MONEY_ACTORS.has(confirmed);
    if (reserved(keys.home) && this.flow.homeId) {
      const homeValue = this.homeValue();
      if (homeValue !== undefined && this.history.some((v) => sameValue(v, homeValue))) {
        this.history = [homeValue];
        this.jumpTo(homeValue);
        return true;
      }
    }
    const choice = choices.find((c) => c.key === input);
    if (confirming) this.moneyHop = true;
    if (choice) {
      await this.send(choice.event);
      return true;
    }
    if (meta?.keywords) {
      const languages = this.flow.translator?.languages ?? [...new Set(meta.keywords.flatMap((k) => Object.keys(k.words)))];
      const match = matchKeyword(meta.keywords, input, this.context.lang, languages);
      if (match.kind === 'event') {
        if (match.lang) this.rest(this.state.value, { ...this.context, lang: match.lang });
        await this.send(match.event);
        return true;
      }
      if (match.kind === 'usage') {
        this.notice = match.usage ?? 'error.invalidInput';
        return false;
      }
      // Not a keyword: the screen itself (its prompt lists the keywords) is the answer.
      if (!meta.input) return false;
    }
    if (meta?.input) {
      if (!INPUT_PATTERNS[meta.input]!.test(input)) {
        this.notice = 'error.invalidInput';
        return false;
      }
      await this.send({ type: 'INPUT', value: input });
      return true;
    }
    this.notice = 'error.invalidChoice';
    return false;
  }

  /** The screen the customer sees now, as keys and raw variables. */
  screen(): TurnScreen {
    return turnScreen(this.flow, this.state);
  }

  /** What to persist; call only at rest. A conversation that did not move persists its snapshot as it was. */
  persist(): ConversationState {
    const snapshot = this.actor
      ? this.actor.getPersistedSnapshot()
      : this.resolved
        ? this.flow.machine.getPersistedSnapshot(this.resolved)
        : this.persisted;
    return { snapshot, history: this.history };
  }

  stop(): void {
    this.actor?.stop();
  }

  private homeValue(): StateValue | undefined {
    const id = this.flow.homeId;
    if (!id) return undefined;
    return id
      .split('.')
      .slice(1)
      .reduceRight<StateValue | undefined>((acc, key) => (acc === undefined ? key : { [key]: acc }), undefined);
  }

  /** Back and home: the machine rests in `value` (a screen it rested in before); nothing runs, so no actor. */
  private jumpTo(value: StateValue): void {
    this.rest(value, this.context);
  }

  /** Puts the machine at rest in `value` with `context` (a jump, or a keyword in another language). */
  private rest(value: StateValue, context: FlowContext): void {
    this.actor?.stop();
    this.actor = undefined;
    this.persisted = undefined;
    this.resolved = this.flow.machine.resolveState({ value, context });
  }

  private startActor(snapshot: unknown): AnyActorRef {
    this.actor = createActor(this.flow.machine, { snapshot: snapshot as never });
    bindHop(this.actor.system, this.hop);
    this.actor.start();
    return this.actor;
  }

  /** Sends an event to the machine, restoring it as an actor first: the transition may invoke an actor. */
  private async send(event: { type: string; [k: string]: unknown }): Promise<void> {
    const actor = this.actor ?? this.startActor(this.resolved ?? this.persisted);
    this.persisted = undefined;
    this.resolved = undefined;
    actor.send(event);
    await this.settle();
    this.remember();
  }

  /** Waits until the machine rests, within the hop deadline. */
  private async settle(): Promise<void> {
    const actor = this.actor!;
    const remaining = this.deadlineAt - Date.now();
    if (isRest(this.snapshot)) return;
    // Stopping the machine aborts its running actors' signals: a money actor then reports its outcome by SMS.
    if (remaining <= 0) {
      actor.stop();
      throw new HopDeadlineExceeded(this.moneyHop);
    }
    try {
      await waitFor(actor, isRest, { timeout: remaining });
    } catch (error) {
      if (this.snapshot.status === 'error') return;
      actor.stop();
      throw error instanceof Error && /timeout/i.test(error.message) ? new HopDeadlineExceeded(this.moneyHop) : error;
    }
  }

  /** Records the resting screen for back navigation. */
  private remember(): void {
    if (this.ended) return;
    const { value } = this.state;
    const current = currentScreenMeta(this.flow, { value });
    if (current?.meta.checkpoint || current?.id === this.flow.homeId) {
      this.history = [value];
      return;
    }
    const top = this.history[this.history.length - 1];
    if (top === undefined || !sameValue(top, value)) this.history.push(value);
  }
}
