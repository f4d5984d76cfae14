import { Router, type Request, type Response } from 'express';
import type { CountryCode } from 'libphonenumber-js';
import { toE164 } from '../text/phone.js';
import { keyedHash } from '../security/secrets.js';
import { hopDeadline } from '../engine/turn-runner.js';
import { maskMsisdn } from '../logger.js';
import { requireCallbackKey, formFields } from './africastalking-common.js';
import type { ChannelDeps } from './channel-deps.js';
import { admit } from './abuse-gate.js';
import { withCaller } from '../security/caller.js';

/**
 * Africa's Talking USSD: `POST /channels/africastalking/ussd` answers `CON ...` / `END ...` as text/plain.
 * AT repeats every earlier input (the PIN included) in `text`, joined by `*`; this adapter alone turns that
 * into one new input per hop, remembering only a keyed hash of the previous `text`, never the text itself.
 * https://developers.africastalking.com/docs/ussd/overview
 */

export interface AtUssdOptions extends ChannelDeps {
  callbackKey?: string;
  /** Text of the polite END for malformed requests, by language. */
  politeEnd: () => string;
}

/** What the adapter remembers between hops: the length and a keyed hash of the previous `text`. */
interface TextMemory {
  len: number;
  h: string;
}

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
  if (
    text.length > previous.len &&
    text[previous.len] === '*' &&
    keyedHash(secret, text.slice(0, previous.len)) === previous.h
  ) {
    return [text.slice(previous.len + 1)];
  }
  // Not an extension of the previous text: an aggregator that sends only the latest input, or a restart.
  return [text];
}

/** Builds the router for the USSD callback and its end-of-session notification. */
export function africastalkingUssd(options: AtUssdOptions): Router {
  const router = Router();
  const { runner, logger, secret } = options;
  const guard = requireCallbackKey(options.callbackKey, { route: 'at-ussd', logger });

  router.post('/channels/africastalking/ussd', guard, async (req: Request, res: Response) => {
    const started = performance.now();
    const deadlineAt = hopDeadline(options.hopDeadlineMs);
    const reply = (text: string, end: boolean, status = 200) => {
      // Server-Timing: how long the hop took here, from arrival to answer (the deadline's own measure).
      res.set('server-timing', `hop;dur=${(performance.now() - started).toFixed(1)}`);
      res.status(status).type('text/plain').send(`${end ? 'END' : 'CON'} ${text}`);
    };
    const fields = formFields(req, ['sessionId', 'phoneNumber', 'serviceCode', 'text', 'networkCode']);
    if (!fields) {
      res.status(415).type('text/plain').send('END expected application/x-www-form-urlencoded');
      return;
    }
    const { sessionId, phoneNumber, serviceCode } = fields;
    const text = fields.text ?? '';
    const msisdn = phoneNumber ? toE164(phoneNumber, options.defaultCountry as CountryCode) : null;
    const problems = [
      !sessionId || !SESSION_ID.test(sessionId) ? 'sessionId' : '',
      !msisdn ? 'phoneNumber' : '',
      !serviceCode || !SERVICE_CODE.test(serviceCode) ? 'serviceCode' : '',
      text.length > MAX_TEXT || /[\u0000-\u001f\ufffd]/.test(text) ? 'text' : '',
    ].filter(Boolean);
    if (problems.length > 0 || !msisdn || !sessionId) {
      logger.warn({ route: 'at-ussd', invalid: problems }, 'malformed USSD request refused');
      reply(options.politeEnd(), true, 400);
      return;
    }
    // Abuse limits before any work: a polite END, never an error status (AT would show its own text).
    if (!(await admit(options, req, res, 'at-ussd', msisdn)).ok) {
      reply(options.busyText?.() ?? options.politeEnd(), true);
      return;
    }
    const result = await withCaller({ msisdn, channel: 'ussd' }, () => runner.run(
      {
        channel: 'ussd',
        sessionId: `at:${sessionId}`,
        msisdn,
        serviceCode,
        // The flow that names this service code, else the USSD catch-all (the flow files decide).
        flowId: options.flowFor('ussd', serviceCode) ?? '',
        hopKey: keyedHash(secret, `hop:${text}`),
        inputs: (previous) => {
          const memory = previous as TextMemory | undefined;
          return {
            inputs: deriveInputs(text, memory, secret),
            transport: { len: text.length, h: keyedHash(secret, text) } satisfies TextMemory,
          };
        },
      },
      deadlineAt,
    ));
    reply(result.text, result.end);
  });

  router.post('/channels/africastalking/ussd/events', guard, async (req: Request, res: Response) => {
    const fields = formFields(req, ['sessionId', 'phoneNumber', 'status', 'durationInMillis', 'hopsCount']);
    if (!fields?.sessionId || !SESSION_ID.test(fields.sessionId)) {
      res.status(400).type('text/plain').send('missing or invalid sessionId');
      return;
    }
    // `input` and `lastAppResponse` repeat the PIN and balances: never logged.
    logger.info(
      {
        route: 'at-ussd-events',
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
    res.status(200).type('text/plain').send('OK');
  });

  return router;
}
