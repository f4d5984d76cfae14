import twilio from 'twilio';
import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import type { CallOutcome } from '../callback/callbacks.js';
import { answerCall, CALL_ID, callEnded, digitsOf, missedCall, recordedRef, seqOf, type VoiceDeps } from '../voice/calls.js';
import { voiceReplyOf, voiceScript, type VoiceRenderOptions, type VoiceScript } from './voice-render.js';
import { closingReply } from './voice-session.js';
import { xml, type ChannelAdapter, type ChannelRoute } from './adapter.js';

/**
 * Twilio voice: `POST /channels/twilio/voice` (TwiML) and `POST /channels/twilio/voice/status`, both behind
 * the signature guard (a forged or unsigned request gets 403 before anything runs).
 *
 * - `Direction=inbound`: a missed call. `<Reject reason="busy"/>` is the first and only verb, so Twilio never
 *   answers and nobody pays; then a call-back is requested for `From` (src/voice/calls.ts and
 *   src/callback/callbacks.ts decide).
 * - `Direction=outbound-api`: a call-back Kiunga placed, answered. The call must belong to a call-back record
 *   (`?ref=` in the signed URL, or the CallSid recorded when it was placed), and `To` must be its number;
 *   any other call hears `voice.notRequested` and ends: no PIN is ever asked on a call the customer did not
 *   request (threat T21). The banking flow then runs on channel `voice`, session `twilio:<CallSid>`, for the
 *   record's number. Prompts are `<Say>` (or `<Play>`) inside `<Gather>`; `actionOnEmptyResult` makes a
 *   silent gather post an empty `Digits`.
 * - status: a final `CallStatus` ends the session and tells the call-back how the call went.
 */

export interface TwilioVoiceOptions {
  voiceDeps: VoiceDeps;
  defaultCountry: string;
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

const twilioVoiceForm = z.object({
  CallSid: z.string().optional(),
  Direction: z.string().optional(),
  From: z.string().optional(),
  To: z.string().optional(),
  Digits: z.string().optional(),
});
const twilioStatusForm = z.object({ CallSid: z.string().optional(), CallStatus: z.string().optional(), Direction: z.string().optional() });

export function twilioVoice(options: TwilioVoiceOptions): ChannelAdapter {
  const { render } = options;
  const base = (options.publicUrl ?? '').replace(/\/+$/, '');
  const closing = (key: string) =>
    twiml(voiceScript(closingReply(render, options.defaultLanguage, key), render), { action: '', voices: options.voices, timeoutS: options.timeoutS });
  const phone = (value: string) => toE164(value, options.defaultCountry as CountryCode);

  const voice: ChannelRoute<z.infer<typeof twilioVoiceForm>> = {
    path: TWILIO_VOICE_ROUTE,
    label: 'twilio-voice',
    verify: 'twilio-signature',
    form: twilioVoiceForm,
    unsupported: { status: 415, type: 'text/plain', body: 'expected application/x-www-form-urlencoded' },
    invalid: () => ({ status: 400, type: 'text/plain', body: 'bad request' }),
    async handle(hop, f) {
      if (f.Direction === 'inbound') {
        // A missed call: refuse it before anything else, so it costs nothing, then decide about a call-back.
        const rejected = new twilio.twiml.VoiceResponse();
        rejected.reject({ reason: 'busy' });
        const msisdn = f.From ? phone(f.From) : null;
        // Over an abuse limit the missed call is rejected the same way, and no call-back is asked for.
        const admitted = (await hop.admit(msisdn ?? undefined)).ok;
        return { ...xml(rejected.toString()), after: () => missedCall(options.voiceDeps, hop.log, msisdn, admitted) };
      }
      const callSid = f.CallSid ?? '';
      const ref = typeof hop.req.query.ref === 'string' ? hop.req.query.ref : undefined;
      const body = await answerCall(
        options.voiceDeps,
        { deadlineAt: hop.deadlineAt, log: hop.log, admit: (msisdn) => hop.admit(msisdn) },
        {
          provider: 'twilio',
          callId: f.Direction === 'outbound-api' && CALL_ID.test(callSid) ? callSid : undefined,
          ref,
          preferRef: true,
          seq: seqOf(hop.req.query.seq),
          digits: digitsOf(f.Digits),
          to: f.To ? phone(f.To) : undefined,
        },
        {
          // Rendered once, with the texts of the call's flow version (a call in flight keeps them on a hot reload).
          render: (turn, texts, transport, record) => {
            const action = `${base}${TWILIO_VOICE_ROUTE}?ref=${encodeURIComponent(record.ref)}&seq=${transport.seq}`;
            const script = voiceScript(voiceReplyOf(turn, texts), { ...render, translator: texts }, { intro: transport.seq === 1, silence: transport.silence });
            return twiml(script, { action, voices: options.voices, timeoutS: options.timeoutS });
          },
          closing,
        },
      );
      return xml(body);
    },
  };

  const status: ChannelRoute<z.infer<typeof twilioStatusForm>> = {
    path: `${TWILIO_VOICE_ROUTE}/status`,
    label: 'twilio-voice',
    verify: 'twilio-signature',
    form: twilioStatusForm,
    invalid: () => xml(new twilio.twiml.VoiceResponse().toString()),
    async handle(hop, f) {
      const outcome = f.CallStatus as CallOutcome | undefined;
      const callSid = f.CallSid ?? '';
      if (f.Direction !== 'inbound' && outcome && FINAL_STATUSES.has(outcome) && CALL_ID.test(callSid)) {
        const ref = typeof hop.req.query.ref === 'string' ? hop.req.query.ref : undefined;
        await callEnded(options.voiceDeps, hop.log, {
          provider: 'twilio',
          callId: callSid,
          ref: async () => ref ?? (await recordedRef(options.voiceDeps, callSid)),
          outcome: () => outcome,
        });
      }
      return xml(new twilio.twiml.VoiceResponse().toString());
    },
  };
  return { name: 'twilio-voice', routes: [voice as ChannelRoute<never>, status as ChannelRoute<never>] };
}
