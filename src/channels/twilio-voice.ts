import { Router, type Request, type RequestHandler, type Response } from 'express';
import twilio from 'twilio';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import { maskMsisdn } from '../logger.js';
import { hopDeadline } from '../engine/turn-runner.js';
import type { CallbackService, CallOutcome } from '../callback/callbacks.js';
import { callRefKey } from '../messaging/outbound.js';
import { formFields } from './africastalking-common.js';
import { voiceReplyOf, voiceScript, type VoiceRenderOptions, type VoiceScript } from './voice-render.js';
import { CALL_ID, callbackOfCall, closingReply, digitsOf, endCall, runVoiceHop, seqOf } from './voice-session.js';
import type { ChannelDeps } from './channel-deps.js';
import { admit } from './abuse-gate.js';
import { withCaller } from '../security/caller.js';

/**
 * Twilio voice: `POST /channels/twilio/voice` (TwiML) and `POST /channels/twilio/voice/status`, both behind
 * the signature guard (a forged or unsigned request gets 403 before anything runs).
 *
 * - `Direction=inbound`: a missed call. `<Reject reason="busy"/>` is the first and only verb, so Twilio never
 *   answers and nobody pays; then a call-back is requested for `From` (src/callback/callbacks.ts decides).
 * - `Direction=outbound-api`: a call-back Kiunga placed, answered. The call must belong to a call-back record
 *   (`?ref=` in the signed URL, or the CallSid recorded when it was placed), and `To` must be its number;
 *   any other call hears `voice.notRequested` and ends: no PIN is ever asked on a call the customer did not
 *   request (threat T21). The banking flow then runs on channel `voice`, session `twilio:<CallSid>`, for the
 *   record's number. Prompts are `<Say>` (or `<Play>`) inside `<Gather>`; `actionOnEmptyResult` makes a
 *   silent gather post an empty `Digits`.
 * - status: a final `CallStatus` ends the session and tells the call-back how the call went.
 */

export interface TwilioVoiceOptions extends ChannelDeps {
  /** `twilioSignatureGuard` (src/channels/twilio-signature.ts). */
  guard: RequestHandler;
  callbacks: CallbackService;
  defaultLanguage: string;
  /** PUBLIC_URL (the signature guard refuses every request without it). */
  publicUrl?: string;
  render: VoiceRenderOptions;
  /** Synthetic voice per language (TWILIO_VOICES). */
  voices: Readonly<Record<string, { voice: string; language: string }>>;
  /** Seconds a gather waits for the first (and each next) key. */
  timeoutS: number;
}

export const TWILIO_VOICE_ROUTE = '/channels/twilio/voice';
const FINAL_STATUSES = new Set<CallOutcome>(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

/** TwiML of a voice script: the sentences inside a `<Gather>` that posts to `action`, or then `<Hangup/>`. */
export function twiml(script: VoiceScript, options: { action: string; voices: TwilioVoiceOptions['voices']; timeoutS: number }): string {
  const response = new twilio.twiml.VoiceResponse();
  const fallbackVoice = Object.values(options.voices)[0];
  const speak = (target: { say: typeof response.say; play: typeof response.play }, piece: VoiceScript['pieces'][number]) => {
    if ('play' in piece) {
      target.play({}, piece.play);
      return;
    }
    const v = options.voices[piece.lang] ?? fallbackVoice;
    target.say(v ? ({ voice: v.voice, language: v.language } as never) : {}, piece.say);
  };
  if (script.gather) {
    const gather = response.gather({
      input: ['dtmf'],
      action: options.action,
      method: 'POST',
      actionOnEmptyResult: true,
      timeout: options.timeoutS,
      finishOnKey: script.gather.finishOnKey,
      ...(script.gather.numDigits ? { numDigits: script.gather.numDigits } : {}),
    });
    for (const piece of script.pieces) speak(gather as never, piece);
  } else {
    for (const piece of script.pieces) speak(response, piece);
    response.hangup();
  }
  return response.toString();
}

export function twilioVoice(options: TwilioVoiceOptions): Router {
  const router = Router();
  const { logger, callbacks, store, keys, render } = options;
  const base = (options.publicUrl ?? '').replace(/\/+$/, '');
  const log = logger.child({ route: 'twilio-voice' });
  const xml = (res: Response, body: string) => res.status(200).type('text/xml').send(body);
  const closing = (res: Response, key: string) =>
    xml(res, twiml(voiceScript(closingReply(render, options.defaultLanguage, key), render), { action: '', voices: options.voices, timeoutS: options.timeoutS }));

  router.post(TWILIO_VOICE_ROUTE, options.guard, async (req: Request, res: Response) => {
    const deadlineAt = hopDeadline(options.hopDeadlineMs);
    const f = formFields(req, ['CallSid', 'Direction', 'From', 'To', 'Digits']);
    if (!f) {
      res.status(415).type('text/plain').send('expected application/x-www-form-urlencoded');
      return;
    }
    if (f.Direction === 'inbound') {
      // A missed call: refuse it before anything else, so it costs nothing, then decide about a call-back.
      const rejected = new twilio.twiml.VoiceResponse();
      rejected.reject({ reason: 'busy' });
      const msisdn = f.From ? toE164(f.From, options.defaultCountry as CountryCode) : null;
      // Over an abuse limit the missed call is rejected the same way, and no call-back is asked for.
      const admitted = (await admit(options, req, res, 'twilio-voice', msisdn ?? undefined)).ok;
      xml(res, rejected.toString());
      if (!msisdn || !admitted) return;
      await callbacks
        .request({ msisdn, source: 'missed-call' })
        .catch((err: unknown) => log.warn({ msisdn: maskMsisdn(msisdn), err: { message: (err as Error).message } }, 'call-back request failed'));
      return;
    }
    try {
      const callSid = f.CallSid ?? '';
      const ref = typeof req.query.ref === 'string' ? req.query.ref : undefined;
      const seq = seqOf(req.query.seq);
      const record =
        f.Direction === 'outbound-api' && CALL_ID.test(callSid)
          ? await callbackOfCall({ callbacks, store, callRefKey: callRefKey(keys, callSid), ref, preferRef: true, answer: seq === undefined })
          : undefined;
      const to = f.To ? toE164(f.To, options.defaultCountry as CountryCode) : null;
      if (!record || (f.To && to !== record.msisdn)) {
        log.warn({ direction: f.Direction, seq }, 'voice request for a call Kiunga did not place: ended');
        closing(res, 'voice.notRequested');
        return;
      }
      if (!(await admit(options, req, res, 'twilio-voice', record.msisdn)).ok) {
        closing(res, 'error.busy');
        return;
      }
      const body = await withCaller({ msisdn: record.msisdn, channel: 'voice' }, () => runVoiceHop({
        runner: options.runner,
        secret: options.secret,
        deadlineAt,
        flowId: options.flowFor('voice') ?? '',
        sessionId: `twilio:${callSid}`,
        msisdn: record.msisdn,
        seq,
        digits: digitsOf(f.Digits),
        // Rendered once, with the texts of the call's flow version (a call in flight keeps them on a hot reload).
        render: (turn, texts, transport) => {
          const action = `${base}${TWILIO_VOICE_ROUTE}?ref=${encodeURIComponent(record.ref)}&seq=${transport.seq}`;
          const script = voiceScript(voiceReplyOf(turn, texts), { ...render, translator: texts }, { intro: transport.seq === 1, silence: transport.silence });
          return twiml(script, { action, voices: options.voices, timeoutS: options.timeoutS });
        },
      }));
      xml(res, body);
    } catch (err) {
      log.warn({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'voice hop failed');
      closing(res, 'error.unavailable');
    }
  });

  router.post(`${TWILIO_VOICE_ROUTE}/status`, options.guard, async (req: Request, res: Response) => {
    const f = formFields(req, ['CallSid', 'CallStatus', 'Direction']) ?? {};
    const status = f.CallStatus as CallOutcome | undefined;
    const callSid = f.CallSid ?? '';
    try {
      if (f.Direction !== 'inbound' && status && FINAL_STATUSES.has(status) && CALL_ID.test(callSid)) {
        const ref = (typeof req.query.ref === 'string' ? req.query.ref : undefined) ?? (await store.get(callRefKey(keys, callSid))) ?? undefined;
        await endCall({ callbacks, store, keys, logger: log, sessionId: `twilio:${callSid}`, callId: callSid, ref, outcome: () => status });
      }
    } catch (err) {
      log.warn({ err: { message: (err as Error)?.message } }, 'call status not recorded');
    }
    xml(res, new twilio.twiml.VoiceResponse().toString());
  });

  return router;
}
