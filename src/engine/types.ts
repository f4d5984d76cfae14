/**
 * Types shared by the flow engine: the machine context every flow runs with, events, and the
 * channel-neutral screen the renderer turns into USSD text, speech or SMS.
 */

/** A value a prompt can show; objects are formatted per locale at render time. */
export type ViewValue =
  | string
  | number
  | { amount: number; currency: string; decimals?: number }
  | { date: string };

export type ViewVars = Record<string, ViewValue>;

/** The context of every flow machine. Never holds a PIN, an OTP or a raw AT `text`. */
export interface FlowContext {
  channel: Channel;
  /** The runner's session id (e.g. `at:ATUid_1`); idempotency keys of money movements derive from it. */
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

/** What a prompt state asks for when it takes free input. */
export type InputKind = 'pin' | 'digits' | 'amount' | 'phone' | 'text';

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

export interface TurnReply {
  end: boolean;
  text: string;
  /** Set for channels whose profile is `structured` (voice): the screen the text was rendered from. */
  screen?: Screen;
  /** Language of the reply (structured profiles). */
  lang?: string;
  /** i18n key of the one-hop notice shown above the screen (structured profiles), e.g. `error.invalidChoice`. */
  notice?: string;
  /** The adapter's transport state after this hop (structured profiles), so a replayed hop renders the same. */
  transport?: unknown;
}
