import type { Logger } from 'pino';
import type { TurnRunner } from '../engine/turn-runner.js';
import type { TurnTexts } from '../engine/turn-types.js';
import type { Channel, Turn } from '../engine/types.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { Admission } from '../limits/abuse.js';
import { keyedHash } from '../security/secrets.js';
import type { ChallengeService } from '../security/challenge.js';
import { maskMsisdn } from '../logger.js';
import type { CallbackRecord, CallbackService, CallOutcome } from '../callback/callbacks.js';
import { callRefKey } from '../messaging/outbound.js';

/**
 * What a call-back call is, whichever provider carries it. The Twilio and Africa's Talking voice adapters only
 * translate their webhooks into these steps and render the answer; every decision is here:
 *
 * - a missed call asks for a call-back to the caller's number (when the abuse limits admit it): `missedCall`;
 * - a call is served only as a call-back Kiunga placed, for that record's number, never a number of the
 *   webhook; any other call hears `voice.notRequested` (threat T21): `answerCall`;
 * - silence: a gather that timed out (or only `#`) is a hop without input; the screen is said again, and after
 *   MAX_SILENCE re-prompts the call ends with `voice.silenceGoodbye`;
 * - a call that ended closes its session and tells the call-back how it went: `callEnded`.
 *
 * Every reply carries a sequence number in the URL the provider posts the next keys to (`seq=<n>`). The hop
 * key is (seq, digits): a provider retrying the same request gets the same reply; the same keys pressed on
 * the next screen are a new hop.
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
  return value
    .replace(/[^0-9*#]/g, '')
    .replace(/#+$/, '')
    .slice(0, 30);
}

const isTransport = (t: unknown): t is VoiceTransport =>
  typeof t === 'object' && t !== null && typeof (t as VoiceTransport).seq === 'number' && typeof (t as VoiceTransport).silence === 'number';

/** What the voice domain works with. */
export interface VoiceDeps {
  runner: TurnRunner;
  callbacks: CallbackService;
  store: KeyValueStore;
  keys: Keys;
  /** Server secret keying hop keys (the digits may be a PIN). */
  secret: string;
  flowFor: (channel: Channel, serviceCode?: string) => string | undefined;
  /** One-time codes, for a call-back that reads out the open payment code (threat T31). */
  codes?: Pick<ChallengeService, 'readOut'>;
}

/** Renders a turn of a call into the provider's reply, with the texts of the call's flow version. */
export type CallRender = (turn: Turn, texts: TurnTexts, transport: VoiceTransport) => string;

export interface VoiceHop {
  runner: TurnRunner;
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
  render: CallRender;
}

/** Runs one hop of a call through the turn runner (channel `voice`), with the silence rule; always resolves. */
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
      render: (turn, texts) =>
        hop.render(turn, texts, isTransport(turn.transport) ? turn.transport : { seq: (hop.seq ?? 0) + 1, silence: 0 }),
    },
    hop.deadlineAt,
  );
  return reply.text;
}

/**
 * A missed call from `msisdn` (null: not a phone number), already answered with a reject (no charge): asks for
 * a call-back when the abuse limits admitted it. Never throws.
 */
export async function missedCall(deps: Pick<VoiceDeps, 'callbacks'>, log: Logger, msisdn: string | null, admitted: boolean): Promise<void> {
  if (!msisdn || !admitted) return;
  await deps.callbacks
    .request({ msisdn, source: 'missed-call' })
    .catch((err: unknown) =>
      log.warn({ msisdn: maskMsisdn(msisdn), err: { message: (err as Error).message } }, 'call-back request failed'),
    );
}

/**
 * The call-back a call belongs to: by the ref of the webhook URL or `clientRequestId` (`ref`), else by the
 * provider call id recorded when the call was placed. On the answer, the call id is recorded too, so later
 * hops find it whichever way the first one did.
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
    : ((await callbacks.forCall({ callRef: byIndex })) ?? (await callbacks.forCall({ ref: options.ref })));
  if (record && options.answer) {
    await store.setIfAbsent(options.callRefKey, record.ref, 3_600_000);
    await callbacks.answered(record.ref);
  }
  return record;
}

/** One request of a call in progress, as the adapter read it. */
export interface CallRequest {
  /** The provider's call id; undefined when the request cannot be a call Kiunga placed. */
  callId?: string;
  /** `twilio` or `at`: the session is `<provider>:<callId>`. */
  provider: string;
  /** The call-back ref the request names (Twilio `?ref=`, AT `clientRequestId`). */
  ref?: string;
  /** Twilio: the ref names the call; AT: the recorded call id does, the ref only as a fallback. */
  preferRef: boolean;
  seq?: number;
  digits: string;
  /** The number the provider says it called (Twilio `To`), checked against the record; undefined: not checked. */
  to?: string | null;
}

/** How the adapter answers: a turn rendered for the provider, or a closing text (by i18n key). */
export interface CallAnswers {
  /** `record`: the call-back the call belongs to (its ref goes into the next callback URL). */
  render(turn: Turn, texts: TurnTexts, transport: VoiceTransport, record: CallbackRecord): string;
  /** Says the text `key` (in `lang`, default the institution's language, with `vars`), then hangs up. */
  closing(key: string, lang?: string, vars?: Record<string, string>): string;
}

/**
 * A call-back asked from the code prompt: it says the open payment code (what it is for, the digits one by
 * one, twice) and hangs up. Nothing runs through the turn runner, so the code is in no session record; it is
 * in no log line either. No open code (used, expired, cancelled since): it says so.
 */
async function readCode(deps: VoiceDeps, record: CallbackRecord & { readCode: { clientId: number } }, answers: CallAnswers, log: Logger) {
  const open = await deps.codes?.readOut?.(record.readCode.clientId, 'money');
  if (!open) {
    log.info({ ref: record.ref }, 'code call answered: no open code to read');
    return answers.closing('voice.codeGone');
  }
  log.info({ ref: record.ref }, 'code call answered: the open code read out');
  return answers.closing('voice.code', open.language, {
    digits: [...open.code].join(', '),
    amount: open.display?.amount ?? '',
    payee: (open.display?.payee ?? '').replace(/\.+$/, ''),
  });
}

/**
 * Serves one request of a call in progress: only a call-back Kiunga placed, for its record's number, within
 * the abuse limits; the flow for channel `voice` runs one hop. Always resolves with the body to answer.
 */
export async function answerCall(
  deps: VoiceDeps,
  hop: { deadlineAt: number; log: Logger; admit(msisdn: string): Promise<Admission> },
  call: CallRequest,
  answers: CallAnswers,
): Promise<string> {
  const { log } = hop;
  try {
    const record = call.callId
      ? await callbackOfCall({
          callbacks: deps.callbacks,
          store: deps.store,
          callRefKey: callRefKey(deps.keys, call.callId),
          ref: call.ref,
          preferRef: call.preferRef,
          answer: call.seq === undefined,
        })
      : undefined;
    if (!record || (call.to !== undefined && call.to !== record.msisdn)) {
      log.warn({ seq: call.seq }, 'voice request for a call Kiunga did not place: ended');
      return answers.closing('voice.notRequested');
    }
    if (!(await hop.admit(record.msisdn)).ok) return answers.closing('error.busy');
    const codeCall = record.readCode;
    if (codeCall) return await readCode(deps, { ...record, readCode: codeCall }, answers, log);
    // The runner's hop context names the caller: the record's number, on channel voice.
    return await runVoiceHop({
      runner: deps.runner,
      secret: deps.secret,
      deadlineAt: hop.deadlineAt,
      flowId: deps.flowFor('voice') ?? '',
      sessionId: `${call.provider}:${call.callId}`,
      msisdn: record.msisdn,
      seq: call.seq,
      digits: call.digits,
      render: (turn, texts, transport) => answers.render(turn, texts, transport, record),
    });
  } catch (err) {
    log.warn({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'voice hop failed');
    return answers.closing('error.unavailable');
  }
}

/** A call that ended, as the adapter read it. */
export interface CallEnd {
  provider: string;
  callId: string;
  /** The call-back ref the request names, if any. */
  ref?: string;
  /** AT: the ref recorded for the call id comes first; Twilio: the ref of the URL does. */
  preferRecorded: boolean;
  outcome: (record: CallbackRecord) => CallOutcome;
}

/**
 * A call ended: its session goes, and its call-back (when known) records the outcome. Never throws.
 */
export async function callEnded(deps: Pick<VoiceDeps, 'callbacks' | 'store' | 'keys'>, log: Logger, call: CallEnd): Promise<void> {
  try {
    await deps.store.delete(deps.keys.session('voice', `${call.provider}:${call.callId}`)).catch(() => undefined);
    const recorded = () => deps.store.get(callRefKey(deps.keys, call.callId));
    const ref = (call.preferRecorded ? ((await recorded()) ?? call.ref) : (call.ref ?? (await recorded()))) ?? undefined;
    if (!ref) return;
    const record = await deps.callbacks.get(ref);
    if (!record) return;
    const outcome = call.outcome(record);
    log.info({ ref: record.ref, msisdn: maskMsisdn(record.msisdn), outcome }, 'call ended');
    await deps.callbacks.finished(record.ref, outcome, call.callId);
  } catch (err) {
    log.warn({ err: { message: (err as Error)?.message } }, 'call end not recorded');
  }
}

/** One voice webhook, as the adapter read it. */
export type VoiceInbound =
  /** A missed call from `msisdn` (null: not a phone number). */
  | { kind: 'missed'; msisdn: string | null }
  /** A request of a call in progress. */
  | { kind: 'call'; call: CallRequest }
  /** A call ended. */
  | { kind: 'ended'; end: CallEnd }
  /** Nothing to do (the end of a missed call, a status Kiunga does not track). */
  | { kind: 'ignored' };

/** What the adapter renders: a reject (then `after` asks for the call-back), a reply body, or nothing. */
export type VoiceOutcome = { kind: 'reject'; after: () => Promise<void> } | { kind: 'body'; body: string } | { kind: 'empty' };

/** Serves one voice webhook: every decision about calls is made here, whichever provider carried it. */
export async function serveVoice(
  deps: VoiceDeps,
  hop: { deadlineAt: number; log: Logger; admit(msisdn: string | undefined): Promise<Admission> },
  inbound: VoiceInbound,
  answers: CallAnswers,
): Promise<VoiceOutcome> {
  switch (inbound.kind) {
    case 'missed': {
      // A missed call is rejected (no charge) in any case; over an abuse limit no call-back is asked for.
      const admitted = (await hop.admit(inbound.msisdn ?? undefined)).ok;
      return { kind: 'reject', after: () => missedCall(deps, hop.log, inbound.msisdn, admitted) };
    }
    case 'call':
      return { kind: 'body', body: await answerCall(deps, hop, inbound.call, answers) };
    case 'ended':
      await callEnded(deps, hop.log, inbound.end);
      return { kind: 'empty' };
    case 'ignored':
      return { kind: 'empty' };
  }
}
