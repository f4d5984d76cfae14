import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { hopDeadline } from '../engine/turn-deadline.js';
import { sourceOf, type Admission, type AbuseLimiter } from '../limits/abuse.js';
import { refuse } from '../limits/refusals.js';
import { requireCallbackKey } from './africastalking-common.js';
import { requireTwilioSignature } from './twilio-signature.js';
import type { Switches } from '../control/switches.js';
import type { Channel } from '../engine/types.js';

/**
 * The one contract every provider adapter follows, and the one wrapper that serves it.
 *
 * An adapter translates and never decides. It names how its requests prove where they come from (`verify`),
 * and its routes: each a path, a zod schema for its form, and a handler. The conversational route's form
 * becomes an inbound hop through the adapter's `toInbound`, goes to the engine or a domain module
 * (src/voice/, src/sms/), which decide, and comes back through the adapter's `render`. The wrapper
 * (`channelRouter`) owns what every route repeats: the verification (403 with a masked log line and the
 * refusal counter), the 415 and 400 answers, the hop deadline taken at arrival, the child logger, the abuse
 * limit check (`hop.admit`: marks, logs and sets Retry-After; the route picks its polite answer), and the
 * Server-Timing header on every answer.
 *
 * To add a provider: write `<provider>-<channel>.ts` exporting a factory of its `ChannelAdapter`, and add it
 * to the list in `channelAdapters` (channels/index.ts).
 */

/** The locale key of the maintenance answer while a channel (or everything) is switched off. */
export const MAINTENANCE_KEY = 'maintenance.all';

/** The content type each kind of answer is sent with (as Express's `res.type()` names them). */
const CONTENT_TYPES = { 'text/plain': 'text/plain; charset=utf-8', 'text/xml': 'text/xml; charset=utf-8' } as const;

/** What a route answers. `after` runs once the answer is sent (a missed call's call-back request). */
export interface Answer {
  status?: number;
  type: 'text/plain' | 'text/xml';
  body: string;
  headers?: Record<string, string>;
  after?: () => Promise<void>;
}

/** How a route's requests prove where they come from: AT's `?key=` (AT signs nothing), Twilio's signature. */
export type Verification = 'callback-key' | 'twilio-signature';

/** What the wrapper hands a route's handler for one request. */
export interface Hop {
  req: Request;
  /** When the engine must stop waiting, so that the answer leaves within HOP_DEADLINE_MS of arrival. */
  deadlineAt: number;
  /** The server logger with the route's label. */
  log: Logger;
  /**
   * The abuse limit check (threats T22, T28): one token from the number's bucket and the source's. On refusal
   * the wrapper has marked and logged it (masked number) and set Retry-After; the route answers politely.
   */
  admit(msisdn: string | undefined): Promise<Admission>;
}

export interface ChannelRoute<F = unknown> {
  path: string;
  /** The route's name in logs and metrics, e.g. `at-ussd`. */
  label: string;
  /** The form fields the route reads (strings only: a field sent twice counts as absent). */
  form: z.ZodType<F>;
  /** The answer when the body is not form-encoded; absent: an empty form is checked instead. */
  unsupported?: Answer;
  /** The answer when the form fails its schema (`fields`: the failing fields, logged, never their values). */
  invalid(fields: string[]): Answer;
  /** Logged with the failing fields when the form is refused (absent: not logged). */
  invalidLog?: string;
  handle(hop: Hop, form: F): Promise<Answer>;
  /**
   * A conversational route's polite answer while its channel is switched off (kill switch `all` or
   * `channel:<channel>`): the maintenance text in the provider's format (USSD END, an SMS reply, speech then
   * hang up). Routes without it (delivery reports, status callbacks, end-of-session notices) keep working.
   */
  paused?: { channel: Channel; answer(hop: Hop, form: F): Promise<Answer> };
}

/**
 * One provider's channel. `toInbound` and `render` are the two translations of its conversational route
 * (form to inbound hop, outcome to the provider's body); its handler composes them around the engine.
 */
export interface ChannelAdapter<I = unknown, O = unknown, R = unknown> {
  name: string;
  verify: Verification;
  routes: ChannelRoute<never>[];
  /** The conversational route's checked form, as the engine or the domain module takes it. */
  toInbound(form: never, hop: Hop): I;
  /** What the engine or domain answered, as the provider's body. */
  render(outcome: O, ...context: never[]): R;
}

/** What the wrapper needs besides the adapters. */
export interface WrapperDeps {
  logger: Logger;
  /** HOP_DEADLINE_MS. */
  hopDeadlineMs: number;
  abuse?: AbuseLimiter;
  /** The kill switches; a route of a switched-off channel gets its `paused` answer and nothing else runs. */
  switches?: Switches;
  /** AT_CALLBACK_KEY; unset: AT routes are open (the production check refuses that against a real Fineract). */
  callbackKey?: string;
  /** TWILIO_AUTH_TOKEN and PUBLIC_URL; without either every Twilio route answers 403. */
  twilio: { authToken?: string; publicUrl?: string };
}

/** The string fields of a form-encoded body, or undefined when the body is not form-encoded. */
export function formOf(req: Request): Record<string, string> | undefined {
  if (!req.is('application/x-www-form-urlencoded')) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) if (typeof value === 'string') out[name] = value;
  return out;
}

/** Serves the routes of `adapters` behind the one request wrapper. */
export function channelRouter(adapters: readonly ChannelAdapter[], deps: WrapperDeps): Router {
  const router = Router();
  const { logger } = deps;
  const twilioCheck = requireTwilioSignature({ authToken: deps.twilio.authToken, publicUrl: deps.twilio.publicUrl, logger });
  for (const adapter of adapters) {
    for (const route of adapter.routes as ChannelRoute<unknown>[]) {
      const guard: RequestHandler =
        adapter.verify === 'twilio-signature' ? twilioCheck : requireCallbackKey(deps.callbackKey, { route: route.label, logger });
      router.post(route.path, guard, async (req: Request, res: Response) => {
        const started = performance.now();
        const deadlineAt = hopDeadline(deps.hopDeadlineMs);
        // A child logger redacts its bindings when made: made only if the hop writes a line.
        let routeLog: Logger | undefined;
        const log = () => (routeLog ??= logger.child({ route: route.label }));
        const send = (answer: Answer) => {
          // Server-Timing: how long the request took here, from arrival to answer (the deadline's own measure).
          res.setHeader('server-timing', `hop;dur=${(performance.now() - started).toFixed(1)}`);
          if (answer.headers) res.set(answer.headers);
          // What Express's status().type().send() sends for a text body on a POST (no ETag: disabled), without
          // its per-answer mime lookup and charset parsing.
          res.statusCode = answer.status ?? 200;
          res.setHeader('content-type', CONTENT_TYPES[answer.type]);
          res.setHeader('content-length', Buffer.byteLength(answer.body));
          res.end(answer.body);
          answer
            .after?.()
            .catch((error: unknown) =>
              log().warn({ err: { type: (error as Error)?.name, message: (error as Error)?.message } }, 'work after the answer failed'),
            );
        };
        const form = formOf(req);
        if (!form && route.unsupported) {
          send(route.unsupported);
          return;
        }
        const parsed = route.form.safeParse(form ?? {});
        if (!parsed.success) {
          const fields = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '')))].filter(Boolean);
          if (route.invalidLog) log().warn({ invalid: fields }, route.invalidLog);
          send(route.invalid(fields));
          return;
        }
        const hop: Hop = {
          req,
          deadlineAt,
          get log() {
            return log();
          },
          admit: (msisdn) => {
            if (!deps.abuse) return Promise.resolve({ ok: true });
            return deps.abuse.admit({ source: sourceOf(req), msisdn }).then((admission) => {
              if (!admission.ok) {
                refuse(res, logger, { route: route.label, reason: `${admission.bucket} limit`, msisdn });
                res.set('retry-after', String(admission.retryAfterS));
              }
              return admission;
            });
          },
        };
        // The kill switch, after the request proved where it comes from and before any work.
        const paused = route.paused;
        if (paused && deps.switches && (deps.switches.isOff('all') || deps.switches.isOff(`channel:${paused.channel}`))) {
          log().info({ channel: paused.channel }, 'channel switched off: maintenance answer');
          send(await paused.answer(hop, parsed.data));
          return;
        }
        send(await route.handle(hop, parsed.data));
      });
    }
  }
  return router;
}

/** A text/plain answer. */
export const plain = (body: string, status = 200): Answer => ({ status, type: 'text/plain', body });
/** A text/xml answer (TwiML). */
export const xml = (body: string, status = 200): Answer => ({ status, type: 'text/xml', body });
