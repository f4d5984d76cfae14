import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { NavigationKeys } from './conversation.js';
import type { LoadedFlow } from './flow-loader.js';
import type { ScreenTranslator } from './screen.js';
import type { Translator } from '../text/i18n.js';
import type { Channel, FlowContext, LostConfirmationAnswer, Turn } from './types.js';
import type { Switches } from '../control/switches.js';

/**
 * What the turn runner (turn-runner.ts) is given and answers with: a hop's request, the runner's dependencies,
 * how a channel presents a neutral turn, where flows come from, and how a hop ended.
 */

export interface TurnRequest {
  channel: Channel;
  /** Unique per provider and session, e.g. `at:ATUid_123`. */
  sessionId: string;
  /** E.164 number of the caller; the session is bound to it (threat T8). */
  msisdn: string;
  serviceCode?: string;
  flowId: string;
  /** Identity of this hop for duplicate detection (a keyed hash: it may cover a PIN). */
  hopKey: string;
  /**
   * Derives this hop's inputs from what the adapter remembered last hop (e.g. AT text un-accumulation).
   * `endWith` (an i18n key) ends the session now with that text instead (voice: the caller stayed silent).
   */
  inputs(previous: unknown): { inputs: string[]; transport: unknown; endWith?: string };
  /**
   * Renders the turn instead of the channel's presenter (voice: TwiML or AT voice XML, which name the
   * provider's callback URL). Called once per hop; its body is what a repeated hop gets again.
   */
  render?: (turn: Turn, texts: TurnTexts) => string;
  /**
   * The hop most likely opens a session (USSD: the dial's empty text): what a new session reads first (the
   * caller's language, `TurnRunnerDeps.readAhead`) is asked for together with the session lock.
   */
  opening?: boolean;
  /**
   * The abuse limits' answer (threats T22, T28), asked for by the channel wrapper in the same round trip as
   * the session lock: when it refuses, the lock is released, nothing runs or renders, and the reply is empty
   * (the caller answers politely).
   */
  admitted?: Promise<{ readonly ok: boolean }>;
}

/** The texts a presenter renders with: the session's flow version's, or the server's for a polite end. */
export type TurnTexts = ScreenTranslator & Pick<Translator, 'languages' | 'fallback' | 'template'>;

/** How one channel presents a neutral turn. */
export interface Presenter {
  /**
   * Presentation-only navigation (USSD "98 More" and "0 Back" between pages of one screen): the presenter's
   * state after `input`, or undefined when the input is not its own (the engine then gets it). `current`
   * gives the screen as it stands, for a presenter that needs to measure it.
   */
  navigate?(input: string, view: unknown, current: () => { turn: Turn; texts: TurnTexts }): unknown;
  /** Renders the turn once, with `texts`; `view` is the presenter's state (after `navigate`). */
  render(turn: Turn, texts: TurnTexts, view: unknown): { text: string; view?: unknown };
}

/** A channel: how long its sessions live, the engine's navigation keys on it, and its presenter. */
export interface ChannelProfile {
  ttlMs: number;
  keys: NavigationKeys;
  presenter: Presenter;
}

/** Where flows come from (a hot-reloading registry later). */
export interface FlowSource {
  current(id: string): LoadedFlow | undefined;
  version(id: string, version: string): LoadedFlow | undefined;
}

export interface TurnRunnerDeps {
  store: KeyValueStore;
  keys: Keys;
  flows: FlowSource;
  translator: TurnTexts;
  profiles: Record<Channel, ChannelProfile>;
  logger: Logger;
  defaultLanguage: string;
  /** The kill switches: a hop of a switched-off flow (`flow:<id>`) gets the maintenance end. */
  switches?: Pick<Switches, 'isOff'>;
  /**
   * Store keys an opening hop will read (the cached customer lookup), fetched in the round trip of the
   * session lock (`KeyValueStore.readAhead`). Plain reads of cached values only: nothing a refused hop
   * should not cost.
   */
  readAhead?: (req: TurnRequest) => string[];
  /**
   * A retry of a money confirmation whose first run still holds the session lock near the deadline (its
   * process died, or it is slow; threat T29): makes sure the outcome of the intent in `context` reaches the
   * customer (by SMS, or on the screen it resolves) and resolves that screen, or undefined when `context`
   * holds no intent it can tell (the retry then gets the polite end of a lock it could not take). `actor` is
   * the actor the screen confirms (`confirmStates`): a transfer, a cash-in, an approval, a cash-out request.
   */
  tellLostConfirmation?: (context: FlowContext, actor: string) => Promise<LostConfirmationAnswer | undefined>;
}

/**
 * How a hop ended, the `outcome` label of `kiunga_hops_total`: the flow asked for more (`continued`) or
 * ended the session (`ended`), an aggregator retry got the recorded reply (`replayed`), the hop belonged to
 * another number or service code (`refused`), the flow is switched off and the customer got the maintenance
 * end (`paused`), the deadline cut it short (`deadline`), or something failed and the customer got the
 * polite end (`failed`). A hop of a switched-off channel never reaches the runner (the channel wrapper
 * answers it), so it is not counted here.
 */
export type HopOutcome = 'continued' | 'ended' | 'replayed' | 'refused' | 'paused' | 'deadline' | 'failed';
