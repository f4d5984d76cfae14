import type { Request } from 'express';
import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import type { CallbackRecord, CallOutcome } from '../callback/callbacks.js';
import { CALL_ID, digitsOf, seqOf, serveVoice, type VoiceDeps, type VoiceInbound, type VoiceTransport } from '../voice/calls.js';
import type { TurnTexts } from '../engine/turn-types.js';
import type { Turn } from '../engine/types.js';
import { voiceReplyOf, voiceScript, type VoiceRenderOptions } from './voice-render.js';
import { atVoiceXml, AtVoiceXml } from './voice-xml.js';
import { closingReply } from './voice-session.js';
import { MAINTENANCE_KEY, plain, type ChannelAdapter, type ChannelRoute, type Hop } from './adapter.js';

/**
 * Africa's Talking voice: `POST /channels/africastalking/voice`, the callback URL of the voice number, which
 * AT posts for inbound calls, answered outbound calls, every `GetDigits` result and the final notification.
 * With AT_CALLBACK_KEY set it requires `?key=` (AT signs nothing); the key is repeated in the callback URLs of
 * the XML Kiunga sends. This adapter only translates; what a call may do is decided in src/voice/calls.ts.
 *
 * - `isActive=1`, `direction=Inbound`: a missed call; `<Reject/>` (no charge), then a call-back is requested
 *   for `callerNumber`.
 * - `isActive=1`, `direction=Outbound`: a call-back Kiunga placed. It is found by `sessionId` (recorded when the
 *   call was placed) or `clientRequestId` (the call-back's ref); anything else hears `voice.notRequested` and
 *   ends (threat T21). The number is the call-back record's, never `callerNumber`/`destinationNumber`.
 *   The voice flow runs on session `at:<sessionId>`; replies are AT voice XML with every text escaped
 *   (voice-xml.ts).
 * - `isActive=0`: the call ended (`hangupCause`, `durationInSeconds`): the session ends and the call-back
 *   records the outcome.
 */

export interface AtVoiceOptions {
  voiceDeps: VoiceDeps;
  defaultCountry: string;
  /** AT_CALLBACK_KEY, repeated in the callback URLs of the XML. */
  callbackKey?: string;
  defaultLanguage: string;
  /** PUBLIC_URL; without it the callback URLs are built from the request's own host. */
  publicUrl?: string;
  render: VoiceRenderOptions;
  /** AT_VOICE (`woman` or `man`); AT's synthetic voice speaks English only. */
  voice: string;
  timeoutS: number;
}

export const AT_VOICE_ROUTE = '/channels/africastalking/voice';

/** How an AT call ended, from its `hangupCause` when the customer never answered. */
export function atOutcome(record: Pick<CallbackRecord, 'state'>, hangupCause: string | undefined): CallOutcome {
  if (record.state === 'answered') return 'completed';
  switch (hangupCause) {
    case 'NORMAL_CLEARING':
      return 'completed';
    case 'USER_BUSY':
    case 'CALL_REJECTED':
      return 'busy';
    case 'NO_ANSWER':
    case 'NO_USER_RESPONSE':
    case 'ORIGINATOR_CANCEL':
    case 'RECOVERY_ON_TIMER_EXPIRE':
    case 'SUBSCRIBER_ABSENT':
      return 'no-answer';
    default:
      return 'failed';
  }
}

/** AT's voice form: `sessionId` must be a call id; the rest is read when present. */
const atVoiceForm = z.object({
  sessionId: z.string().regex(CALL_ID),
  direction: z.string().optional(),
  isActive: z.string().optional(),
  callerNumber: z.string().optional(),
  clientRequestId: z.string().optional(),
  dtmfDigits: z.string().optional(),
  hangupCause: z.string().optional(),
});

export function africastalkingVoice(options: AtVoiceOptions): ChannelAdapter<VoiceInbound, Turn, string> {
  const { render } = options;
  // AT samples answer voice XML as text/plain.
  const send = (body: string) => plain(body);
  const callbackUrl = (req: Request, seq: number) => {
    const base = (options.publicUrl ?? `${req.protocol}://${req.get('host')}`).replace(/\/+$/, '');
    const key = options.callbackKey ? `key=${encodeURIComponent(options.callbackKey)}&` : '';
    return `${base}${AT_VOICE_ROUTE}?${key}seq=${seq}`;
  };
  const closing = (key: string, lang = options.defaultLanguage, vars?: Record<string, string>) =>
    atVoiceXml(voiceScript(closingReply(render, lang, key, vars), render), {
      voice: options.voice,
      callbackUrl: '',
      timeoutS: options.timeoutS,
    });
  /** A turn of the call as AT voice XML, said with `texts` (the call's flow version's). */
  const renderTurn = (turn: Turn, texts: TurnTexts, transport: VoiceTransport, req: Request) => {
    const script = voiceScript(
      voiceReplyOf(turn, texts),
      { ...render, translator: texts },
      { intro: transport.seq === 1, silence: transport.silence },
    );
    return atVoiceXml(script, { voice: options.voice, callbackUrl: callbackUrl(req, transport.seq), timeoutS: options.timeoutS });
  };

  type Form = z.infer<typeof atVoiceForm>;
  /** The webhook as the voice domain takes it (src/voice/calls.ts decides what happens). */
  const toInbound = (f: Form, hop: Hop): VoiceInbound => {
    const ref = f.clientRequestId && /^[a-z0-9]{20}$/.test(f.clientRequestId) ? f.clientRequestId : undefined;
    if (f.isActive === '0') {
      if (f.direction === 'Inbound') return { kind: 'ignored' };
      const cause = f.hangupCause;
      return {
        kind: 'ended',
        end: { provider: 'at', callId: f.sessionId, ref, preferRecorded: true, outcome: (r) => atOutcome(r, cause) },
      };
    }
    if (f.direction === 'Inbound')
      return { kind: 'missed', msisdn: f.callerNumber ? toE164(f.callerNumber, options.defaultCountry as CountryCode) : null };
    // Not a missed call: served only as a call-back Kiunga placed (whether or not AT repeats `direction`
    // on every GetDigits result, the call must match a call-back record).
    return {
      kind: 'call',
      call: { provider: 'at', callId: f.sessionId, ref, preferRef: false, seq: seqOf(hop.req.query.seq), digits: digitsOf(f.dtmfDigits) },
    };
  };

  const voice: ChannelRoute<Form> = {
    path: AT_VOICE_ROUTE,
    label: 'at-voice',
    form: atVoiceForm,
    unsupported: plain('expected application/x-www-form-urlencoded', 415),
    invalid: () => plain('missing or invalid sessionId', 400),
    async handle(hop, f) {
      const outcome = await serveVoice(options.voiceDeps, hop, toInbound(f, hop), {
        // Rendered once, with the texts of the call's flow version (a call in flight keeps them on a hot reload).
        render: (turn, texts, transport) => renderTurn(turn, texts, transport, hop.req),
        closing,
      });
      if (outcome.kind === 'reject') return { ...send(new AtVoiceXml().reject().toString()), after: outcome.after };
      return send(outcome.kind === 'body' ? outcome.body : '');
    },
    // Switched off: a call-back in progress hears the maintenance text and ends; a missed call is rejected
    // with no call-back; the end of a call is still recorded.
    paused: {
      channel: 'voice',
      answer: async (hop, f) => {
        const inbound = toInbound(f, hop);
        if (inbound.kind === 'missed') return send(new AtVoiceXml().reject().toString());
        if (inbound.kind === 'call') return send(closing(MAINTENANCE_KEY));
        return voice.handle(hop, f);
      },
    },
  };
  return { name: 'africastalking-voice', verify: 'callback-key', routes: [voice as ChannelRoute<never>], toInbound, render: renderTurn };
}
