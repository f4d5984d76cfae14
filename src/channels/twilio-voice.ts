import twilio from 'twilio';
import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import type { CallbackRecord, CallOutcome } from '../callback/callbacks.js';
import { CALL_ID, digitsOf, seqOf, serveVoice, type VoiceDeps, type VoiceInbound, type VoiceTransport } from '../voice/calls.js';
import type { TurnTexts } from '../engine/turn-types.js';
import type { Turn } from '../engine/types.js';
import { voiceReplyOf, voiceScript, type VoiceRenderOptions, type VoiceScript } from './voice-render.js';
import { closingReply } from './voice-session.js';
import { MAINTENANCE_KEY, xml, type ChannelAdapter, type ChannelRoute, type Hop } from './adapter.js';

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

export function twilioVoice(options: TwilioVoiceOptions): ChannelAdapter<VoiceInbound, Turn, string> {
  const { render } = options;
  const base = (options.publicUrl ?? '').replace(/\/+$/, '');
  const closing = (key: string, lang = options.defaultLanguage, vars?: Record<string, string>) =>
    twiml(voiceScript(closingReply(render, lang, key, vars), render), {
      action: '',
      voices: options.voices,
      timeoutS: options.timeoutS,
    });
  const phone = (value: string) => toE164(value, options.defaultCountry as CountryCode);

  type Form = z.infer<typeof twilioVoiceForm>;
  /** The webhook as the voice domain takes it (src/voice/calls.ts decides what happens). */
  const toInbound = (f: Form, hop: Hop): VoiceInbound => {
    // A missed call: rejected before anything else, so it costs nothing; then the domain decides about a call-back.
    if (f.Direction === 'inbound') return { kind: 'missed', msisdn: f.From ? phone(f.From) : null };
    const callSid = f.CallSid ?? '';
    return {
      kind: 'call',
      call: {
        provider: 'twilio',
        callId: f.Direction === 'outbound-api' && CALL_ID.test(callSid) ? callSid : undefined,
        ref: typeof hop.req.query.ref === 'string' ? hop.req.query.ref : undefined,
        preferRef: true,
        seq: seqOf(hop.req.query.seq),
        digits: digitsOf(f.Digits),
        to: f.To ? phone(f.To) : undefined,
      },
    };
  };
  /** A turn of the call as TwiML, said with `texts` (the call's flow version's); the next hop names `record`. */
  const renderTurn = (turn: Turn, texts: TurnTexts, transport: VoiceTransport, record: Pick<CallbackRecord, 'ref'>) => {
    const action = `${base}${TWILIO_VOICE_ROUTE}?ref=${encodeURIComponent(record.ref)}&seq=${transport.seq}`;
    const script = voiceScript(
      voiceReplyOf(turn, texts),
      { ...render, translator: texts },
      { intro: transport.seq === 1, silence: transport.silence },
    );
    return twiml(script, { action, voices: options.voices, timeoutS: options.timeoutS });
  };
  const empty = () => xml(new twilio.twiml.VoiceResponse().toString());

  const voice: ChannelRoute<Form> = {
    path: TWILIO_VOICE_ROUTE,
    label: 'twilio-voice',
    form: twilioVoiceForm,
    unsupported: { status: 415, type: 'text/plain', body: 'expected application/x-www-form-urlencoded' },
    invalid: () => ({ status: 400, type: 'text/plain', body: 'bad request' }),
    async handle(hop, f) {
      // Rendered once, with the texts of the call's flow version (a call in flight keeps them on a hot reload).
      const outcome = await serveVoice(options.voiceDeps, hop, toInbound(f, hop), { render: renderTurn, closing });
      if (outcome.kind === 'reject') {
        const rejected = new twilio.twiml.VoiceResponse();
        rejected.reject({ reason: 'busy' });
        return { ...xml(rejected.toString()), after: outcome.after };
      }
      return outcome.kind === 'body' ? xml(outcome.body) : empty();
    },
    // Switched off: a call-back in progress hears the maintenance text and hangs up; a missed call is
    // rejected with no call-back.
    paused: {
      channel: 'voice',
      answer: async (hop, f) => {
        if (toInbound(f, hop).kind !== 'missed') return xml(closing(MAINTENANCE_KEY));
        const rejected = new twilio.twiml.VoiceResponse();
        rejected.reject({ reason: 'busy' });
        return xml(rejected.toString());
      },
    },
  };

  const status: ChannelRoute<z.infer<typeof twilioStatusForm>> = {
    path: `${TWILIO_VOICE_ROUTE}/status`,
    label: 'twilio-voice',
    form: twilioStatusForm,
    invalid: empty,
    async handle(hop, f) {
      const outcome = f.CallStatus as CallOutcome | undefined;
      const callSid = f.CallSid ?? '';
      const tracked = f.Direction !== 'inbound' && outcome && FINAL_STATUSES.has(outcome) && CALL_ID.test(callSid);
      const ref = typeof hop.req.query.ref === 'string' ? hop.req.query.ref : undefined;
      await serveVoice(
        options.voiceDeps,
        hop,
        tracked
          ? { kind: 'ended', end: { provider: 'twilio', callId: callSid, ref, preferRecorded: false, outcome: () => outcome } }
          : { kind: 'ignored' },
        { render: renderTurn, closing },
      );
      return empty();
    },
  };
  return {
    name: 'twilio-voice',
    verify: 'twilio-signature',
    routes: [voice as ChannelRoute<never>, status as ChannelRoute<never>],
    toInbound,
    render: renderTurn,
  };
}
