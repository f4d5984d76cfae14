import type { Logger } from 'pino';
import type { TurnRunner } from '../engine/turn-runner.js';
import type { Screen, Turn } from '../engine/types.js';
import type { TurnTexts } from '../engine/turn-runner.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { keyedHash } from '../security/secrets.js';
import { maskMsisdn } from '../logger.js';
import type { CallbackRecord, CallbackService } from '../callback/callbacks.js';
import type { VoiceRenderOptions, VoiceReply } from './voice-render.js';

/**
 * What the Twilio and Africa's Talking voice adapters share: running one hop of a call-back call through the
 * turn runner (the same flow as USSD, on channel `voice`), the silence rule, and the replies for calls that
 * are not Kiunga's.
 *
 * Every reply Kiunga sends carries a sequence number in the URL the provider posts the next keys to
 * (`seq=<n>`). The hop key is (seq, digits): a provider retrying the same request gets the same reply; the
 * same keys pressed on the next screen are a new hop. Silence (a gather that timed out, or only `#`) is a hop
 * without input: the screen is said again, and after MAX_SILENCE re-prompts the call ends with
 * `voice.silenceGoodbye`. The count lives in the session's transport state.
 */

/** Re-prompts after silence before the call ends. */
export const MAX_SILENCE = 2;

/** The voice transport state the runner keeps with the session. */
export interface VoiceTransport {
  /** Number of the latest reply; the next request carries it as `seq`. */
  seq: number;
  /** Silent hops in a row. */
  silence: number;
}

/** Provider call ids: Twilio CallSid (`CA` + 32 hex), AT session ids (`ATVId_...`), the sandbox's. */
export const CALL_ID = /^[A-Za-z0-9_.-]{6,100}$/;

/** Reads `seq` from the query: absent on the first request of a call (the answer). */
export function seqOf(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : undefined;
}

/** Keys pressed: digits, `*` and `#` only (a trailing `#` finished the input), at most 30. */
export function digitsOf(value: unknown): string {
  if (typeof value !== 'string') return '';
  return value.replace(/[^0-9*#]/g, '').replace(/#+$/, '').slice(0, 30);
}

const isTransport = (t: unknown): t is VoiceTransport =>
  typeof t === 'object' && t !== null && typeof (t as VoiceTransport).seq === 'number' && typeof (t as VoiceTransport).silence === 'number';

export interface VoiceHop {
  runner: TurnRunner;
  /** Server secret keying hop keys (the digits may be a PIN). */
  secret: string;
  deadlineAt: number;
  flowId: string;
  /** `twilio:<CallSid>` or `at:<sessionId>`. */
  sessionId: string;
  /** The call-back's number (never a field of the webhook). */
  msisdn: string;
  /** From the URL; undefined on the answer. */
  seq?: number;
  digits: string;
  /**
   * Renders the turn into the provider's reply (TwiML, AT voice XML) with the texts of the call's flow
   * version; `transport` is the call's state after this hop (the next `seq`, silent hops in a row).
   */
  render(turn: Turn, texts: TurnTexts, transport: VoiceTransport): string;
}

/** Runs one hop of a call; always resolves with the rendered reply. */
export async function runVoiceHop(hop: VoiceHop): Promise<string> {
  const answer = hop.seq === undefined;
  const hopKey = keyedHash(hop.secret, answer ? 'voice:answer' : `voice:${hop.seq}:${hop.digits}`);
  const reply = await hop.runner.run(
    {
      channel: 'voice',
      sessionId: hop.sessionId,
      msisdn: hop.msisdn,
      flowId: hop.flowId,
      hopKey,
      inputs: (previous) => {
        const before = isTransport(previous) ? previous : { seq: 0, silence: 0 };
        const seq = before.seq + 1;
        if (answer) return { inputs: [], transport: { seq, silence: 0 } };
        if (hop.digits === '') {
          const silence = before.silence + 1;
          return silence > MAX_SILENCE
            ? { inputs: [], transport: { seq, silence }, endWith: 'voice.silenceGoodbye' }
            : { inputs: [], transport: { seq, silence } };
        }
        return { inputs: [hop.digits], transport: { seq, silence: 0 } };
      },
      render: (turn, texts) => hop.render(turn, texts, isTransport(turn.transport) ? turn.transport : { seq: (hop.seq ?? 0) + 1, silence: 0 }),
    },
    hop.deadlineAt,
  );
  return reply.text;
}

/** A closing reply said in `lang` (a call that is not Kiunga's, an error): the text of `key`, then the end. */
export function closingReply(render: VoiceRenderOptions, lang: string, key: string): VoiceReply {
  const text = render.translator.t(lang, key);
  const screen: Screen = { stateId: '', final: true, text, list: [], options: [], parts: { vars: {}, prompt: { key }, list: [], options: [] } };
  return { end: true, text, lang, screen };
}

/**
 * The call-back a call belongs to: by the ref of the webhook URL or `clientRequestId` (`ref`), else by the
 * provider call id recorded when the call was placed (`callRefKey`). On the answer, the call id is recorded
 * too, so later hops find it whichever way the first one did.
 */
export async function callbackOfCall(options: {
  callbacks: CallbackService;
  store: KeyValueStore;
  callRefKey: string;
  ref?: string;
  preferRef: boolean;
  answer: boolean;
}): Promise<CallbackRecord | undefined> {
  const { callbacks, store } = options;
  const byIndex = () => store.get(options.callRefKey);
  const record = options.preferRef
    ? await callbacks.forCall({ ref: options.ref, callRef: byIndex })
    : (await callbacks.forCall({ callRef: byIndex })) ?? (await callbacks.forCall({ ref: options.ref }));
  if (record && options.answer) {
    await store.setIfAbsent(options.callRefKey, record.ref, 3_600_000);
    await callbacks.answered(record.ref);
  }
  return record;
}

/** Ends a call's session: the runner's record goes, the call-back records the outcome. */
export async function endCall(options: {
  callbacks: CallbackService;
  store: KeyValueStore;
  keys: Keys;
  logger: Logger;
  sessionId: string;
  callId: string;
  ref?: string;
  outcome: (record: CallbackRecord) => Parameters<CallbackService['finished']>[1];
}): Promise<void> {
  const { callbacks, store, keys, logger } = options;
  await store.delete(keys.session('voice', options.sessionId)).catch(() => undefined);
  if (!options.ref) return;
  const record = await callbacks.get(options.ref);
  if (!record) return;
  const outcome = options.outcome(record);
  logger.info({ ref: record.ref, msisdn: maskMsisdn(record.msisdn), outcome }, 'call ended');
  await callbacks.finished(record.ref, outcome, options.callId);
}
