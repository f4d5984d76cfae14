import { createActor, waitFor, type AnyActorRef, type AnyMachineSnapshot, type StateValue } from 'xstate';
import type { LoadedFlow } from './flow-loader.js';
import type { FlowInput } from './registry.js';
import { currentScreenMeta, screenChoices, turnScreen } from './screen.js';
import type { FlowContext, TurnScreen } from './types.js';
import { matchKeyword } from './keywords.js';
import { MONEY_ACTORS } from './actor-kit.js';
import { CHALLENGE_DIGITS } from '../security/challenge.js';

/**
 * One conversation's machine for the length of a hop: started fresh or restored from the persisted
 * snapshot, driven by the customer's inputs with engine-level navigation (`0` back, `00` home), and
 * persisted again only when it rests (waiting for input, or final). Paging a long screen (`98` more) is the
 * USSD presenter's, not the engine's.
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

/** Ids of the prompt states that confirm a money movement: an event of theirs enters a state invoking a money actor. */
const confirmStates = new WeakMap<LoadedFlow, Set<string>>();

/** The money-confirmation prompts of a flow, derived from the machine (threats T25, T29). */
export function moneyConfirmStates(flow: LoadedFlow): Set<string> {
  let ids = confirmStates.get(flow);
  if (ids) return ids;
  ids = new Set<string>();
  const movesMoney = (node: { invoke: { src: unknown }[] }) =>
    node.invoke.some((i) => typeof i.src === 'string' && MONEY_ACTORS.has(i.src));
  for (const id of flow.screens.keys()) {
    const node = flow.machine.getStateNodeById(id);
    for (const list of node.transitions.values()) {
      if (list.some((t) => t.target?.some(movesMoney))) ids.add(id);
    }
  }
  confirmStates.set(flow, ids);
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
const sameValue = (a: StateValue, b: StateValue) => JSON.stringify(a) === JSON.stringify(b);

export class Conversation {
  /** A one-hop notice shown above the screen (invalid choice). Never persisted. */
  notice?: string;
  /** Set once this hop sent an event from a money-confirmation screen: money may move in this hop. */
  moneyHop = false;
  private actor: AnyActorRef;

  private constructor(
    readonly flow: LoadedFlow,
    actor: AnyActorRef,
    public history: StateValue[],
    private readonly deadlineAt: number,
  ) {
    this.actor = actor;
  }

  /** Starts the flow and runs it to its first resting screen. */
  static async start(flow: LoadedFlow, input: FlowInput, deadlineAt: number): Promise<Conversation> {
    const actor = createActor(flow.machine, { input });
    const c = new Conversation(flow, actor, [], deadlineAt);
    actor.start();
    await c.settle();
    c.remember();
    return c;
  }

  /** Restores a persisted conversation (nothing runs: it was persisted at rest). */
  static restore(flow: LoadedFlow, state: ConversationState, deadlineAt: number): Conversation {
    const actor = createActor(flow.machine, { snapshot: state.snapshot as never });
    actor.start();
    return new Conversation(flow, actor, state.history, deadlineAt);
  }

  get snapshot(): AnyMachineSnapshot {
    return this.actor.getSnapshot() as AnyMachineSnapshot;
  }

  get context(): FlowContext {
    return this.snapshot.context as FlowContext;
  }

  get ended(): boolean {
    return this.snapshot.status !== 'active';
  }

  /** True when the machine rests on a money-confirmation screen (amount and recipient shown, PIN asked). */
  get atConfirm(): boolean {
    if (this.ended) return false;
    const current = currentScreenMeta(this.flow, this.snapshot);
    return !!current && moneyConfirmStates(this.flow).has(current.id);
  }

  /**
   * Applies one customer input. Resolves true when the machine moved to another screen (an event, back or
   * home), false when the input only set a notice or was not understood.
   */
  async apply(input: string, keys: NavigationKeys): Promise<boolean> {
    this.notice = undefined;
    const current = currentScreenMeta(this.flow, this.snapshot);
    const meta = current?.meta;
    const choices = meta ? screenChoices(meta, this.context) : [];
    const optionKeys = new Set(choices.map((c) => c.key));
    const reserved = (key: string) => input === key && !optionKeys.has(key);

    if (reserved(keys.back) && this.history.length > 1) {
      this.history.pop();
      this.jumpTo(this.history[this.history.length - 1]!);
      return true;
    }
    const confirming = !!current && moneyConfirmStates(this.flow).has(current.id);
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
        if (match.lang) this.restartWith(this.snapshot.value as StateValue, { ...this.context, lang: match.lang });
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
    return turnScreen(this.flow, this.snapshot);
  }

  /** What to persist; call only at rest. */
  persist(): ConversationState {
    return { snapshot: this.actor.getPersistedSnapshot(), history: this.history };
  }

  stop(): void {
    this.actor.stop();
  }

  private homeValue(): StateValue | undefined {
    const id = this.flow.homeId;
    if (!id) return undefined;
    return id
      .split('.')
      .slice(1)
      .reduceRight<StateValue | undefined>((acc, key) => (acc === undefined ? key : { [key]: acc }), undefined);
  }

  private jumpTo(value: StateValue): void {
    const context = this.context;
    this.actor.stop();
    const snapshot = this.flow.machine.resolveState({ value, context });
    this.actor = createActor(this.flow.machine, { snapshot });
    this.actor.start();
  }

  /** Restarts the actor at rest in `value` with another context (a keyword in another language). */
  private restartWith(value: StateValue, context: FlowContext): void {
    this.actor.stop();
    this.actor = createActor(this.flow.machine, { snapshot: this.flow.machine.resolveState({ value, context }) });
    this.actor.start();
  }

  private async send(event: { type: string; [k: string]: unknown }): Promise<void> {
    this.actor.send(event);
    await this.settle();
    this.remember();
  }

  /** Waits until the machine rests, within the hop deadline. */
  private async settle(): Promise<void> {
    const remaining = this.deadlineAt - Date.now();
    if (isRest(this.snapshot)) return;
    // Stopping the machine aborts its running actors' signals: a money actor then reports its outcome by SMS.
    if (remaining <= 0) {
      this.actor.stop();
      throw new HopDeadlineExceeded(this.moneyHop);
    }
    try {
      await waitFor(this.actor, isRest, { timeout: remaining });
    } catch (error) {
      if (this.snapshot.status === 'error') return;
      this.actor.stop();
      throw error instanceof Error && /timeout/i.test(error.message) ? new HopDeadlineExceeded(this.moneyHop) : error;
    }
  }

  /** Records the resting screen for back navigation. */
  private remember(): void {
    if (this.ended) return;
    const current = currentScreenMeta(this.flow, this.snapshot);
    const value = this.snapshot.value as StateValue;
    if (current?.meta.checkpoint || current?.id === this.flow.homeId) {
      this.history = [value];
      return;
    }
    const top = this.history[this.history.length - 1];
    if (top === undefined || !sameValue(top, value)) this.history.push(value);
  }
}
