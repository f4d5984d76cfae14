import { Router, type Request, type Response } from 'express';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import { maskMsisdn } from '../logger.js';
import { hopDeadline } from '../engine/turn-runner.js';
import type { CallbackRecord, CallbackService, CallOutcome } from '../callback/callbacks.js';
import { callRefKey } from '../messaging/outbound.js';
import { formFields, requireCallbackKey } from './africastalking-common.js';
import { voiceReplyOf, voiceScript, type VoiceRenderOptions } from './voice-render.js';
import { atVoiceXml, AtVoiceXml } from './voice-xml.js';
import { CALL_ID, callbackOfCall, closingReply, digitsOf, endCall, runVoiceHop, seqOf } from './voice-session.js';
import type { ChannelDeps } from './channel-deps.js';
import { admit } from './abuse-gate.js';
import { withCaller } from '../security/caller.js';

/**
 * Africa's Talking voice: `POST /channels/africastalking/voice`, the callback URL of the voice number, which
 * AT posts for inbound calls, answered outbound calls, every `GetDigits` result and the final notification.
 * With AT_CALLBACK_KEY set it requires `?key=` (AT signs nothing); the key is repeated in the callback URLs of
 * the XML Kiunga sends.
 *
 * - `isActive=1`, `direction=Inbound`: a missed call; `<Reject/>` (no charge), then a call-back is requested
 *   for `callerNumber`.
 * - `isActive=1`, `direction=Outbound`: a call-back Kiunga placed. It is found by `sessionId` (recorded when the
 *   call was placed) or `clientRequestId` (the call-back's ref); anything else hears `voice.notRequested` and
 *   ends (threat T21). The number is the call-back record's, never `callerNumber`/`destinationNumber`.
 *   The banking flow runs on channel `voice`, session `at:<sessionId>`; replies are AT voice XML with every
 *   text escaped (voice-xml.ts).
 * - `isActive=0`: the call ended (`hangupCause`, `durationInSeconds`): the session ends and the call-back
 *   records the outcome.
 */

export interface AtVoiceOptions extends ChannelDeps {
  callbacks: CallbackService;
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

export function africastalkingVoice(options: AtVoiceOptions): Router {
  const router = Router();
  const { logger, callbacks, store, keys, render } = options;
  const log = logger.child({ route: 'at-voice' });
  const guard = requireCallbackKey(options.callbackKey, { route: 'at-voice', logger });
  // AT samples answer voice XML as text/plain.
  const send = (res: Response, body: string) => res.status(200).type('text/plain').send(body);
  const callbackUrl = (req: Request, seq: number) => {
    const base = (options.publicUrl ?? `${req.protocol}://${req.get('host')}`).replace(/\/+$/, '');
    const key = options.callbackKey ? `key=${encodeURIComponent(options.callbackKey)}&` : '';
    return `${base}${AT_VOICE_ROUTE}?${key}seq=${seq}`;
  };
  const closing = (res: Response, key: string) =>
    send(res, atVoiceXml(voiceScript(closingReply(render, options.defaultLanguage, key), render), { voice: options.voice, callbackUrl: '', timeoutS: options.timeoutS }));

  router.post(AT_VOICE_ROUTE, guard, async (req: Request, res: Response) => {
    const deadlineAt = hopDeadline(options.hopDeadlineMs);
    const f = formFields(req, ['sessionId', 'direction', 'isActive', 'callerNumber', 'clientRequestId', 'dtmfDigits', 'hangupCause', 'durationInSeconds']);
    if (!f) {
      res.status(415).type('text/plain').send('expected application/x-www-form-urlencoded');
      return;
    }
    const sessionId = f.sessionId ?? '';
    if (!CALL_ID.test(sessionId)) {
      res.status(400).type('text/plain').send('missing or invalid sessionId');
      return;
    }
    const ref = f.clientRequestId && /^[a-z0-9]{20}$/.test(f.clientRequestId) ? f.clientRequestId : undefined;

    if (f.isActive === '0') {
      try {
        if (f.direction !== 'Inbound') {
          const known = (await store.get(callRefKey(keys, sessionId))) ?? ref;
          const cause = f.hangupCause;
          await endCall({ callbacks, store, keys, logger: log, sessionId: `at:${sessionId}`, callId: sessionId, ref: known, outcome: (r) => atOutcome(r, cause) });
        }
      } catch (err) {
        log.warn({ err: { message: (err as Error)?.message } }, 'call end not recorded');
      }
      send(res, '');
      return;
    }

    if (f.direction === 'Inbound') {
      const msisdn = f.callerNumber ? toE164(f.callerNumber, options.defaultCountry as CountryCode) : null;
      // Over an abuse limit the missed call is rejected the same way, and no call-back is asked for.
      const admitted = (await admit(options, req, res, 'at-voice', msisdn ?? undefined)).ok;
      send(res, new AtVoiceXml().reject().toString());
      if (!msisdn || !admitted) return;
      await callbacks
        .request({ msisdn, source: 'missed-call' })
        .catch((err: unknown) => log.warn({ msisdn: maskMsisdn(msisdn), err: { message: (err as Error).message } }, 'call-back request failed'));
      return;
    }

    try {
      const seq = seqOf(req.query.seq);
      // Not a missed call: served only as a call-back Kiunga placed (whether or not AT repeats `direction`
      // on every GetDigits result, the call must match a call-back record).
      const record = await callbackOfCall({ callbacks, store, callRefKey: callRefKey(keys, sessionId), ref, preferRef: false, answer: seq === undefined });
      if (!record) {
        log.warn({ direction: f.direction, seq }, 'voice request for a call Kiunga did not place: ended');
        closing(res, 'voice.notRequested');
        return;
      }
      if (!(await admit(options, req, res, 'at-voice', record.msisdn)).ok) {
        closing(res, 'error.busy');
        return;
      }
      const body = await withCaller({ msisdn: record.msisdn, channel: 'voice' }, () => runVoiceHop({
        runner: options.runner,
        secret: options.secret,
        deadlineAt,
        flowId: options.flowFor('voice') ?? '',
        sessionId: `at:${sessionId}`,
        msisdn: record.msisdn,
        seq,
        digits: digitsOf(f.dtmfDigits),
        // Rendered once, with the texts of the call's flow version (a call in flight keeps them on a hot reload).
        render: (turn, texts, transport) => {
          const script = voiceScript(voiceReplyOf(turn, texts), { ...render, translator: texts }, { intro: transport.seq === 1, silence: transport.silence });
          return atVoiceXml(script, { voice: options.voice, callbackUrl: callbackUrl(req, transport.seq), timeoutS: options.timeoutS });
        },
      }));
      send(res, body);
    } catch (err) {
      log.warn({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'voice hop failed');
      closing(res, 'error.unavailable');
    }
  });

  return router;
}
