import type { AuditEvent, AuditTrail } from '../audit/audit.js';
import type { CallOptions, Customer } from '../fineract/types.js';
import { SMS_JOB } from '../jobs/catalogue.js';
import type { JobQueue } from '../jobs/queue.js';
import { maskMsisdn, type Logger } from '../logger.js';
import type { ClientId, Keys } from '../session/keys.js';
import type { KeyValueStore } from '../session/store.js';
import { toGsm } from '../text/gsm.js';
import { toE164 } from '../text/phone.js';
import type { CountryCode } from 'libphonenumber-js';
import type { Translator } from '../text/i18n.js';
import type { ChallengeService, CheckResult } from './challenge.js';
import type { PinService } from './pin.js';
import { pinWeakness, type PinWeakness } from './pin-rules.js';
import { hmacSha256 } from './secrets.js';
import type { SimSwapCheck } from './sim-swap.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * Who may set a PIN, and how it changes over a customer's life (threat T11, issue 10 points 2 and 3).
 *
 * - **Enrolment.** A Fineract client with no PIN sets one with an activation code sent by SMS to the number
 *   Fineract holds. `ENROLMENT_MODE=operator` (default): only an operator starts it (`POST /admin/enrolments`),
 *   after checking the customer in person. `self`: a registered client with no PIN who dials is sent the code
 *   on the spot, unless the SIM was swapped recently (T4): a new SIM in a fraudster's hands would otherwise
 *   enrol on the victim's account, so that customer is sent to a branch (an operator enrolment still works).
 * - **Reset.** An operator's `"reset": true` removes the PIN at once (the old one stops working), lifts any
 *   lock, voids every open code, and sends a new activation code: the customer then enrols again.
 * - **Change.** From the menu, after the old PIN. Every new PIN is checked against `pin-rules.ts`; the first
 *   entry waits in the session only as a keyed hash (`draftHash`) until the second matches. After every set or
 *   change: an SMS "Your PIN was changed. Not you? Call ...", an audit entry, and every open code is void.
 * - **Self-unlock.** A time-boxed lock (never a hard one) can be ended with a code sent by SMS, at most
 *   `SELF_UNLOCKS_PER_DAY` times a day. It ends the lock but keeps its escalation, and the PIN must still be
 *   right afterwards: the next wrong PINs lock again, for longer (T26). It is no way around the lockout.
 */

/** Successful self-unlocks per customer in 24 hours. */
export const SELF_UNLOCKS_PER_DAY = 3;
const DAY_MS = 24 * 3_600_000;

export type EnrolmentMode = 'operator' | 'self';

export interface IdentityDeps {
  mode: EnrolmentMode;
  pins: PinService;
  challenges: ChallengeService;
  /** Finds the client by number (operator enrolment) and reads the birth date (PIN rules). */
  fineract: {
    findClientByPhone(e164: string): Promise<Customer | null>;
    getClient(clientId: number, call?: CallOptions): Promise<Customer>;
  };
  /** Self enrolment and self-unlock refuse a SIM swapped recently; absent: no check (SIM_SWAP_PROVIDER=none). */
  simSwap?: SimSwapCheck;
  queue: JobQueue;
  translator: Translator;
  store: KeyValueStore;
  keys: Keys;
  /** Digits in a PIN (the PIN service's `pinLength`, default 4). */
  pinLength?: number;
  /** The server secret: keys the hash of a PIN typed once and waiting for its confirmation. */
  pepper: string;
  /** SUPPORT_PHONE: the number the "PIN changed" SMS gives; empty: "customer care". */
  supportPhone: string;
  defaultLanguage: string;
  /** DEFAULT_COUNTRY: how an operator's national number (0711 000002) is read. */
  defaultCountry: string;
  logger: Logger;
  audit?: AuditTrail;
  now?: () => number;
}

export type OperatorEnrolment =
  | { status: 'code-sent'; clientId: number }
  /** Not a phone number. */
  | { status: 'invalid' }
  | { status: 'unknown' }
  | { status: 'has-pin'; clientId: number }
  | { status: 'send-limit'; clientId: number };

/** What a customer with no PIN sees when they dial. */
export type EnrolmentState =
  | 'has-pin'
  /** An activation code is open (sent by an operator, or earlier): ask for it. */
  | 'code-open'
  /** Self mode: a code was sent now. */
  | 'code-sent'
  /** Operator mode and no code: contact the institution. */
  | 'operator-only'
  | 'sim-swap'
  | 'sim-swap-unknown'
  | 'send-limit';

export type UnlockSend = 'sent' | 'not-locked' | 'hard' | 'limit' | 'sim-swap' | 'sim-swap-unknown' | 'send-limit';
export type UnlockCheck = CheckResult | { result: 'hard' };

export type PinJourney = 'enrol' | 'change';

export interface IdentityService {
  readonly mode: EnrolmentMode;
  /** `POST /admin/enrolments`: `phone` as the operator typed it (E.164, or national in DEFAULT_COUNTRY). */
  enrolByOperator(request: { phone: string; reset: boolean; operator: string }): Promise<OperatorEnrolment>;
  /**
   * At the start of a session: has a PIN, or where the enrolment stands (and, in self mode, sends the code).
   * `hop.context`: the hop's context (session/hop-context.ts), whose early read of the number's PIN record
   * answers without a round trip.
   */
  enrolmentState(
    customer: { clientId: number; msisdn: string },
    hop: { lang: string; channel: string; context?: HopContext },
  ): Promise<EnrolmentState>;
  checkActivationCode(clientId: number, code: string): Promise<CheckResult>;
  /** What is wrong with a new PIN: not `pinLength` digits (`format`), or the first rule it breaks (birth year from Fineract, the number). */
  newPinProblem(customer: { clientId: number; msisdn: string }, pin: string, hop?: HopContext): Promise<PinWeakness | 'format' | undefined>;
  /** The keyed hash a first PIN entry waits under in the session (never the PIN). */
  draftHash(session: string, pin: string): string;
  /** Stores the new PIN, voids open codes, audits, tells the customer by SMS; enrolment marks the credential fresh. */
  setNewPin(request: {
    clientId: number;
    msisdn: string;
    lang: string;
    channel: string;
    pin: string;
    journey: PinJourney;
    hop?: HopContext;
  }): Promise<void>;
  sendUnlockCode(customer: { clientId: number; msisdn: string }, hop: { lang: string; channel: string }): Promise<UnlockSend>;
  unlockWithCode(clientId: number, code: string): Promise<UnlockCheck>;
}

export function createIdentityService(deps: IdentityDeps): IdentityService {
  const { pins, challenges, fineract, store, keys, translator, queue, logger, mode } = deps;
  const now = deps.now ?? Date.now;
  const log = logger.child({ component: 'identity' });
  const pinFormat = new RegExp(`^\\d{${deps.pinLength ?? 4}}$`);
  const unlocksKey = (clientId: ClientId) => keys.forCustomer(clientId, 'pin:self-unlocks');

  const audited = async (event: AuditEvent) => {
    try {
      await deps.audit?.record(event);
    } catch (err) {
      log.error({ type: event.type, err: { message: (err as Error)?.message } }, 'audit entry not written');
    }
  };

  /** True, false, or 'unknown' when the check cannot answer (the caller fails closed). */
  const swapped = async (msisdn: string): Promise<boolean | 'unknown'> => {
    if (!deps.simSwap) return false;
    try {
      return await deps.simSwap.recentlySwapped(msisdn);
    } catch {
      return 'unknown';
    }
  };

  const language = async (msisdn: string, fallback?: string) =>
    fallback ?? (await store.get(keys.language(msisdn)).catch(() => null)) ?? deps.defaultLanguage;

  return {
    mode,

    async enrolByOperator({ phone, reset, operator }) {
      const msisdn = toE164(phone, deps.defaultCountry as CountryCode);
      if (!msisdn) return { status: 'invalid' };
      const customer = await fineract.findClientByPhone(msisdn);
      if (!customer) return { status: 'unknown' };
      const clientId = customer.clientId;
      if (!reset && (await pins.hasPin(clientId))) return { status: 'has-pin', clientId };
      if (reset) {
        // The old PIN stops working at once; a lock would stop the new one, so it goes too; open codes are void.
        await pins.clearPin(clientId, [...new Set([msisdn, customer.msisdn])]);
        await pins.unlock(clientId);
        await challenges.revoke(clientId);
      }
      const sent = await challenges.issue(
        { purpose: 'enrol', clientId },
        { msisdn: customer.msisdn, language: await language(customer.msisdn), channel: 'admin' },
      );
      await audited({
        type: 'enrolment.started',
        actor: `operator:${operator}`,
        clientId,
        msisdn: customer.msisdn,
        channel: 'admin',
        data: { reset, mode: 'operator', sent: sent.status },
      });
      if (sent.status === 'send-limit') return { status: 'send-limit', clientId };
      log.info({ clientId, msisdn: maskMsisdn(customer.msisdn), reset }, 'enrolment started by an operator');
      return { status: 'code-sent', clientId };
    },

    async enrolmentState(customer, hop) {
      const { clientId, msisdn } = customer;
      if (await pins.hasPin(clientId, msisdn, hop.context)) return 'has-pin';
      if (await challenges.pending(clientId, 'enrol')) return 'code-open';
      if (mode === 'operator') return 'operator-only';
      const swap = await swapped(msisdn);
      if (swap === 'unknown') return 'sim-swap-unknown';
      if (swap) {
        log.warn({ clientId, msisdn: maskMsisdn(msisdn) }, 'self enrolment refused: SIM swapped recently');
        return 'sim-swap';
      }
      const sent = await challenges.issue({ purpose: 'enrol', clientId }, { msisdn, language: hop.lang, channel: hop.channel });
      if (sent.status === 'send-limit') return 'send-limit';
      await audited({
        type: 'enrolment.started',
        actor: `customer:${clientId}`,
        clientId,
        msisdn,
        channel: hop.channel,
        data: { reset: false, mode: 'self', sent: sent.status },
      });
      return 'code-sent';
    },

    checkActivationCode: (clientId, code) => challenges.check({ purpose: 'enrol', clientId }, code),

    async newPinProblem(customer, pin, hop) {
      if (typeof pin !== 'string' || !pinFormat.test(pin)) return 'format';
      const { birthDate } = await fineract.getClient(customer.clientId, { hop });
      return pinWeakness(pin, { birthDate, msisdn: customer.msisdn });
    },

    draftHash: (session, pin) => hmacSha256(deps.pepper, 'kiunga new pin v1\0', session, '\0', pin).toString('hex'),

    async setNewPin({ clientId, msisdn, lang, channel, pin, journey, hop }) {
      await pins.setPin(clientId, pin, hop);
      // Any code sent before the change was sent to whoever held the phone then.
      await challenges.revoke(clientId);
      const actor = `customer:${clientId}` as const;
      if (journey === 'enrol') {
        // The first money-out after an enrolment or a reset needs a code as well (issue 10, point 4).
        await challenges.markFreshCredential(clientId);
        await audited({ type: 'enrolment.completed', actor, clientId, msisdn, channel });
      }
      await audited({ type: 'pin.changed', actor, clientId, msisdn, channel, data: { journey } });
      const text = deps.supportPhone
        ? translator.t(lang, 'sms.pinChanged', { support: deps.supportPhone })
        : translator.t(lang, 'sms.pinChangedNoPhone');
      const ref = `pin-changed-${clientId}-${now()}`;
      await queue.add(SMS_JOB, { to: msisdn, text: toGsm(text), ref }, { jobId: ref });
      log.info({ clientId, msisdn: maskMsisdn(msisdn), journey }, 'PIN set');
    },

    async sendUnlockCode(customer, hop) {
      const { clientId, msisdn } = customer;
      const status = await pins.status(clientId);
      if (!status.locked) return 'not-locked';
      if (status.hard) return 'hard';
      if (Number((await store.get(unlocksKey(clientId))) ?? 0) >= SELF_UNLOCKS_PER_DAY) return 'limit';
      const swap = await swapped(msisdn);
      if (swap === 'unknown') return 'sim-swap-unknown';
      if (swap) return 'sim-swap';
      const sent = await challenges.issue({ purpose: 'unlock', clientId }, { msisdn, language: hop.lang, channel: hop.channel });
      return sent.status === 'send-limit' ? 'send-limit' : 'sent';
    },

    async unlockWithCode(clientId, code) {
      const checked = await challenges.check({ purpose: 'unlock', clientId }, code);
      if (checked.result !== 'ok') return checked;
      if (!(await pins.liftTimedLock(clientId))) {
        // The lock ended meanwhile (then nothing to do) or became hard (an operator must unlock).
        if ((await pins.status(clientId)).hard) return { result: 'hard' };
      }
      await store.increment(unlocksKey(clientId), DAY_MS);
      await audited({ type: 'pin.unlocked', actor: `customer:${clientId}`, clientId, data: { by: 'one-time-sms' } });
      log.info({ clientId }, 'PIN lock ended by the customer with a code');
      return { result: 'ok' };
    },
  };
}
