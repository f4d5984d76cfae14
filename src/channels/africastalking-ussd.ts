import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import { keyedHash } from '../security/secrets.js';
import { maskMsisdn } from '../logger.js';
import type { ChannelDeps } from './channel-deps.js';
import { plain, type Answer, type ChannelAdapter, type ChannelRoute } from './adapter.js';
import type { TurnRequest } from '../engine/turn-types.js';
import type { TurnReply } from '../engine/types.js';

/**
 * Africa's Talking USSD: `POST /channels/africastalking/ussd` answers `CON ...` / `END ...` as text/plain.
 * AT repeats every earlier input (the PIN included) in `text`, joined by `*`; this adapter alone turns that
 * into one new input per hop, remembering only a keyed hash of the previous `text`, never the text itself.
 * https://developers.africastalking.com/docs/ussd/overview
 */

export interface AtUssdOptions extends ChannelDeps {
  /** Text of the polite END for malformed requests, by language. */
  politeEnd: () => string;
}

/** A USSD hop as the runner takes it (the flow is chosen by the service code). */
export type UssdInbound = Omit<TurnRequest, 'flowId'> & { serviceCode: string };

/**
 * What the adapter remembers between hops: the length and a keyed hash of the previous `text`. `k` is the hop
 * key of that text (`hopKeyOf`), so one keyed hash per hop serves both; `h`, a keyed hash of the text alone, is
 * what sessions remembered before and is still read for them.
 */
interface TextMemory {
  len: number;
  k?: string;
  h?: string;
}

/** The hop's identity for retries, a keyed hash of its whole `text`; also what the next hop's prefix is checked against. */
const hopKeyOf = (secret: string, text: string) => keyedHash(secret, `hop:${text}`);

const MAX_TEXT = 1_000;
const SESSION_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const SERVICE_CODE = /^[*#0-9]{1,32}$/;

/**
 * Derives the new inputs of a hop from the cumulative `text` and what was remembered last hop.
 * An input may itself contain `*`: the new input is everything after the previous text and its separator.
 */
export function deriveInputs(text: string, previous: TextMemory | undefined, secret: string): string[] {
  if (!previous) return text === '' ? [] : text.split('*'); // a dial-string shortcut (*384*1234*1#) on the first hop
  if (previous.len === 0 && text.length > 0) return [text];
  if (text.length > previous.len && text[previous.len] === '*') {
    const prefix = text.slice(0, previous.len);
    const continues = previous.k !== undefined ? hopKeyOf(secret, prefix) === previous.k : keyedHash(secret, prefix) === previous.h;
    if (continues) return [text.slice(previous.len + 1)];
  }
  // Not an extension of the previous text: an aggregator that sends only the latest input, or a restart.
  return [text];
}

/** Builds the adapter of the USSD callback and its end-of-session notification. */
export function africastalkingUssd(options: AtUssdOptions): ChannelAdapter<UssdInbound, TurnReply, Answer> {
  const { runner, secret } = options;
  const answer = (text: string, end: boolean, status = 200) => plain(`${end ? 'END' : 'CON'} ${text}`, status);
  const form = z.object({
    sessionId: z.string().regex(SESSION_ID),
    phoneNumber: z
      .string()
      .transform(
        (value, ctx) =>
          toE164(value, options.defaultCountry as CountryCode) ??
          (ctx.addIssue({ code: 'custom', message: 'not a phone number' }), z.NEVER),
      ),
    serviceCode: z.string().regex(SERVICE_CODE),
    text: z
      .string()
      .max(MAX_TEXT)
      .refine((t) => !/[\u0000-\u001f\ufffd]/.test(t))
      .optional(),
  });

  type Form = z.infer<typeof form>;
  /** The hop as the runner takes it: AT's cumulative `text` becomes this hop's new inputs. */
  const toInbound = (fields: Form): UssdInbound => {
    const text = fields.text ?? '';
    // One keyed hash of the text per hop: the hop key, remembered for the next hop's prefix check too.
    const hopKey = hopKeyOf(secret, text);
    return {
      channel: 'ussd',
      sessionId: `at:${fields.sessionId}`,
      msisdn: fields.phoneNumber,
      serviceCode: fields.serviceCode,
      hopKey,
      inputs: (previous) => ({
        inputs: deriveInputs(text, previous as TextMemory | undefined, secret),
        transport: { len: text.length, k: hopKey } satisfies TextMemory,
      }),
    };
  };
  /** The runner's reply as AT shows it. */
  const render = (reply: TurnReply): Answer => answer(reply.text, reply.end);

  const hops: ChannelRoute<Form> = {
    path: '/channels/africastalking/ussd',
    label: 'at-ussd',
    form,
    unsupported: plain('END expected application/x-www-form-urlencoded', 415),
    // A polite END (AT shows it), never an error page.
    invalid: () => answer(options.politeEnd(), true, 400),
    invalidLog: 'malformed USSD request refused',
    // Switched off: END with the maintenance text; no session starts.
    paused: { channel: 'ussd', answer: async () => answer(options.maintenanceText?.() ?? options.politeEnd(), true) },
    async handle(hop, fields) {
      const inbound = toInbound(fields);
      // Abuse limits before any work: asked in the round trip of the session lock; refused, the runner
      // releases the lock and runs nothing, and the answer is a polite END, never an error status.
      const admission = hop.admit(inbound.msisdn);
      // The flow that names this service code, else the USSD catch-all (the flow files decide).
      const flowId = options.flowFor('ussd', inbound.serviceCode) ?? '';
      const opening = (fields.text ?? '') === '';
      // The runner's hop context names the caller (the request's own number and channel).
      const reply = await runner.run({ ...inbound, flowId, opening, admitted: admission }, hop.deadlineAt);
      if (!(await admission).ok) return answer(options.busyText?.() ?? options.politeEnd(), true);
      return render(reply);
    },
  };

  const events: ChannelRoute<{ sessionId: string; phoneNumber?: string; status?: string; durationInMillis?: string; hopsCount?: string }> =
    {
      path: '/channels/africastalking/ussd/events',
      label: 'at-ussd-events',
      form: z.object({
        sessionId: z.string().regex(SESSION_ID),
        phoneNumber: z.string().optional(),
        status: z.string().optional(),
        durationInMillis: z.string().optional(),
        hopsCount: z.string().optional(),
      }),
      invalid: () => plain('missing or invalid sessionId', 400),
      async handle(hop, fields) {
        // `input` and `lastAppResponse` repeat the PIN and balances: never logged.
        hop.log.info(
          {
            session: `at:${fields.sessionId}`,
            msisdn: fields.phoneNumber ? maskMsisdn(fields.phoneNumber) : undefined,
            status: fields.status,
            durationMs: Number(fields.durationInMillis) || undefined,
            hops: Number(fields.hopsCount) || undefined,
          },
          'USSD session ended',
        );
        try {
          await options.store.delete(options.keys.session('ussd', `at:${fields.sessionId}`));
        } catch {
          // The record expires by itself; the notification needs no retry.
        }
        return plain('OK');
      },
    };
  return {
    name: 'africastalking-ussd',
    verify: 'callback-key',
    routes: [hops as ChannelRoute<never>, events as ChannelRoute<never>],
    toInbound,
    render,
  };
}
