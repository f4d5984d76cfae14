/**
 * Types shared by the flow engine: the machine context every flow runs with, events, and the
 * channel-neutral screen the renderer turns into USSD text, speech or SMS.
 */

/** A value a prompt can show; objects are formatted per locale at render time. */
export type ViewValue = string | number | { amount: number; currency: string; decimals?: number } | { date: string };

export type ViewVars = Record<string, ViewValue>;

/** The context of every flow machine. Never holds a PIN, an OTP or a raw AT `text`. */
export interface FlowContext {
  channel: Channel;
  /** The runner's session id (e.g. `at:ATUid_1`), for logs; money idempotency keys are random per intent, never derived from it. */
  session: string;
  msisdn: string;
  lang: string;
  customer?: { clientId: number; name: string; displayName: string; officeId: number };
  /** Display values for prompts; lists are arrays of var objects. */
  view: Record<string, ViewValue | ViewVars[]>;
  /** Free-form data actions keep between states (ids, amounts); never secrets. */
  data: Record<string, string | number | boolean | null>;
}

export type Channel = 'ussd' | 'voice' | 'sms';

/** Every event a flow receives: menu events, `INPUT` with a value, and XState's done/error events. */
export interface FlowEvent {
  type: string;
  value?: string;
  [key: string]: unknown;
}

/** What a prompt state asks for when it takes free input; `code` is a one-time code sent by SMS, a secret like the PIN. */
export type InputKind = 'pin' | 'code' | 'digits' | 'amount' | 'phone' | 'text';

export interface MenuOption {
  key: string;
  /** i18n key of the label. */
  label: string;
  event: string;
  /** Extra fields sent with the event, e.g. `{ lang: sw }`. */
  params?: Record<string, string | number | boolean>;
  /** Shown only while `context.data[if]` is true (never show an item that does not work). */
  if?: string;
}

/** An argument an SMS keyword takes after its word, sent with the event under its own name (`{ pin }`). */
export type KeywordArg = 'pin' | 'lang' | 'digits' | 'amount' | 'phone';

/**
 * Words a screen understands as a whole message (SMS): `BAL 1234` sends `{ type: BALANCE, pin: '1234' }`.
 * Matched case-insensitively, tolerant of extra spaces; arguments are positional and checked by kind.
 */
export interface Keyword {
  event: string;
  /** Words per language, e.g. `{ en: [BAL, BALANCE], sw: [SALIO] }`; a word may be several words (`MINI STATEMENT`). */
  words: Record<string, string[]>;
  args?: KeywordArg[];
  /** i18n key shown above the prompt when the word matches but the arguments do not (default `error.invalidInput`). */
  usage?: string;
}

/** Screen metadata of a state (`meta:` in a flow file). */
export interface ScreenMeta {
  prompt?: string;
  input?: InputKind;
  options?: MenuOption[];
  list?: { items: string; item: string; empty?: string };
  /** Numbered choices built from a view list (e.g. accounts): key n sends `{ type: event, index: n - 1 }`. */
  choose?: { items: string; item: string; event: string };
  /** Entering this screen forgets the back history (e.g. after money moved). */
  checkpoint?: boolean;
  /** Keywords (SMS): a whole message matched against words per language. */
  keywords?: Keyword[];
}

/** A channel-neutral screen: what to say and what the customer may answer. */
export interface Screen {
  stateId: string;
  final: boolean;
  /** Translated prompt text (may contain newlines), already interpolated. */
  text: string;
  /** Translated list lines (mini statement), shown as many as fit. */
  list: string[];
  /** Translated empty-list text, when the list is empty. */
  options: { key: string; label: string }[];
  input?: InputKind;
  /**
   * The same texts as i18n keys and variables, for channels that do more than show text: voice plays a
   * recording of a key, or speaks another language where the customer's has no synthetic voice.
   */
  parts?: ScreenParts;
}

/** A text of a screen before translation. */
export interface ScreenText {
  key: string;
  /** Variables of this text only (list rows, choice labels); `ScreenParts.vars` holds the shared ones. */
  vars?: Record<string, string | number>;
}

export interface ScreenParts {
  /** Formatted view variables every text of the screen may use. */
  vars: Record<string, string | number>;
  prompt?: ScreenText;
  list: ScreenText[];
  /** Shown (after the prompt) when the list is empty. */
  empty?: ScreenText;
  options: { key: string; label: ScreenText }[];
}

/** A text of a turn before translation: an i18n key and its own raw variables (list rows, choice labels). */
export interface TurnText {
  key: string;
  vars?: ViewVars;
}

/**
 * The final screen a retry of a lost money confirmation answers (threat T29, `TurnRunnerDeps.tellLostConfirmation`):
 * its text key and variables (the ref).
 */
export interface LostConfirmationAnswer {
  key: string;
  vars: Record<string, string>;
}

/**
 * The channel-neutral screen of a turn: keys and raw variables only, nothing translated or formatted. A
 * channel's presenter translates it (`translateScreen`, screen.ts) with the texts of the session's flow version.
 */
export interface TurnScreen {
  /** The prompt state the machine rests on; absent when the runner ended the session itself. */
  stateId?: string;
  final: boolean;
  /** View variables every text of the screen may use (lists left out). */
  vars: Record<string, ViewValue>;
  prompt: TurnText;
  list: TurnText[];
  /** Shown (after the prompt) when the list is empty. */
  empty?: TurnText;
  options: { key: string; label: TurnText }[];
  input?: InputKind;
}

/** One hop's outcome, neutral: rendered once by the channel's presenter. */
export interface Turn {
  end: boolean;
  lang: string;
  screen: TurnScreen;
  /** i18n key of the one-hop notice shown above the screen, e.g. `error.invalidChoice`. */
  notice?: string;
  /**
   * Set when the runner ended the session itself (a polite end, the deadline, the channel's `endWith`): the
   * i18n key said. A flow's own final screen leaves it unset.
   */
  closing?: string;
  /** The adapter's transport state after this hop (voice: seq and silence). */
  transport?: unknown;
}

/** What a hop answers: the rendered body (the one a repeated hop gets again) and whether the session ended. */
export interface TurnReply {
  end: boolean;
  /** The body as the channel's presenter rendered it (USSD text, SMS text, TwiML or AT voice XML). */
  text: string;
}
