import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditTrail, AuditType } from '../audit/audit.js';
import { FineractError } from '../fineract/errors.js';
import { SMS_JOB, type JobQueue } from '../jobs/queue.js';
import type { KeyValueStore } from '../session/store.js';
import { withLock } from '../session/lock.js';
import type { Keys } from '../session/keys.js';
import type { Translator } from '../text/i18n.js';
import type { Application, ApplicationState, ApplyRequest, OfferedTerms, ReviewResult } from './application.js';
import { runApplicationChecks } from './application-checks.js';
import { applicationSmsText, applicationStatusLine, quoteText } from './application-texts.js';
import type { CoreLoanStatus, LoanQuote, OriginationCore } from './core.js';
import { profilePinId, type ProfileService } from './profiles.js';
import { RecordStore } from './records.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * Loan applications with Kiunga's own lifecycle (issue 12, points 3 to 5):
 *
 *   submitted ─▶ declined (automated checks: reason and next step)
 *       └──────▶ review ─▶ rejected (a reviewer, with a reason)
 *   submitted | review ─▶ withdrawn (the applicant, before it goes to Fineract)
 *   review ─▶ approved (a reviewer) ─▶ in-core (Fineract: submitted and pending approval)
 *   in-core ─▶ core-approved ─▶ disbursed ─▶ closed, or ─▶ core-rejected | core-withdrawn (mirrored from Fineract)
 *
 * Every transition is one compare-and-set on the record (records.ts), audited as `application.<state>` and told
 * to the applicant by SMS in their language. "approved" is the only state that talks to Fineract: under a lock
 * per application it creates the client when there is none (externalId = profile id) and submits the loan
 * (externalId = application id); a duplicate of either is read back by its external id. So a repeated approval,
 * two approvals racing, or a crash half-way all end with one client and one loan.
 */

export interface ApplicationServiceOptions {
  store: KeyValueStore;
  keys: Keys;
  prefix: string;
  core: OriginationCore;
  profiles: ProfileService;
  queue: JobQueue;
  translator: Translator;
  audit: AuditTrail;
  logger: Logger;
  /** LOAN_APPLICANT_CLIENT_ACTIVE: create the client active (true) or pending activation. */
  clientActive: boolean;
  today: () => string;
  /** The USSD code told in SMS ("Dial *384*123# > My applications"). */
  ussdCode: string;
  now?: () => number;
}

const REF_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const newRef = () =>
  Array.from(randomBytes(8))
    .map((b) => REF_ALPHABET[b % REF_ALPHABET.length])
    .join('');

const CORE_STATE: Record<CoreLoanStatus, ApplicationState> = {
  pending: 'in-core',
  approved: 'core-approved',
  active: 'disbursed',
  rejected: 'core-rejected',
  withdrawn: 'core-withdrawn',
  closed: 'closed',
};

/** Fineract's answer to a second `externalId`: a data integrity error (403) or a 400 naming the external id. */
const isDuplicate = (error: unknown) =>
  error instanceof FineractError && error.kind === 'rejected' && /duplicate|external[._ ]?id|already exists/i.test(error.message);

export class ApplicationService {
  readonly records: RecordStore<Application>;
  private readonly now: () => number;

  constructor(private readonly options: ApplicationServiceOptions) {
    this.records = new RecordStore<Application>(options.store, options.prefix, 'application', (a) => a.msisdn);
    this.now = options.now ?? Date.now;
  }

  get(id: string): Promise<Application | undefined> {
    return this.records.get(id);
  }

  /** An applicant's applications, newest first. */
  forApplicant(msisdn: string, limit = 10): Promise<Application[]> {
    return this.records.list('owner', msisdn, limit);
  }

  list(state: ApplicationState, limit = 50): Promise<Application[]> {
    return this.records.list('state', state, limit);
  }

  /** Fineract's quote for these terms (instalment, total repaid, cost); nothing is stored. `hop`: as `ApplyRequest.hop`. */
  quote(terms: OfferedTerms, principalCents: number, repayments: number, clientId?: number, hop?: HopContext): Promise<LoanQuote> {
    return this.options.core.quote(terms.productId, principalCents, repayments, clientId, { hop });
  }

  /** The SMS with the quote, sent before the applicant confirms with the PIN. */
  async sendQuote(
    msisdn: string,
    lang: string,
    terms: OfferedTerms,
    principalCents: number,
    repayments: number,
    quote: LoanQuote,
  ): Promise<void> {
    const text = quoteText(this.options.translator, lang, terms, principalCents, repayments, quote);
    await this.options.queue.add(SMS_JOB, { to: msisdn, text }).catch((error: unknown) => {
      this.options.logger.warn({ err: { type: (error as Error)?.name } }, 'quote SMS not queued');
    });
  }

  /**
   * Submits an application (the PIN was checked by the caller), runs the automated checks, and leaves it
   * declined (told by SMS with the reason and the next step) or waiting for review.
   */
  async apply(request: ApplyRequest): Promise<Application> {
    const at = this.now();
    const application: Application = {
      id: randomBytes(16).toString('hex'),
      ref: newRef(),
      state: 'submitted',
      msisdn: request.msisdn,
      lang: request.lang,
      ...(request.profile ? { profileId: request.profile.id } : {}),
      ...(request.clientId !== undefined
        ? { clientId: request.clientId }
        : request.profile?.clientId !== undefined
          ? { clientId: request.profile.clientId }
          : {}),
      productId: request.terms.productId,
      productName: request.terms.productName,
      principalCents: request.principalCents,
      repayments: request.repayments,
      currency: request.terms.currency,
      quote: request.quote,
      checks: [],
      channel: request.channel,
      createdAt: at,
      updatedAt: at,
      version: 1,
    };
    // One application is checked at a time per applicant, so two submitted at once cannot both pass "open application".
    return withLock(this.options.store, this.records.key(`apply:${request.msisdn}`), { ttlMs: 30_000, waitMs: 10_000 }, async () => {
      const others = await this.forApplicant(request.msisdn, 20);
      await this.records.create(application);
      await this.audited('application.submitted', application, { product: application.productId, amountMinor: application.principalCents });
      const checks = await runApplicationChecks(application, request, others, this.options);
      const failed = checks.find((c) => !c.ok);
      const { record } = await this.records.update(application.id, (a) =>
        a.state !== 'submitted'
          ? undefined
          : { ...a, checks, state: failed ? 'declined' : 'review', ...(failed ? { reason: failed.detail } : {}), updatedAt: this.now() },
      );
      const result = record ?? application;
      if (result.state === 'declined') {
        await this.audited('application.declined', result, { reason: result.reason ?? null });
        await this.tell(result, 'declined');
      } else if (result.state === 'review') {
        await this.audited('application.review', result, {});
        await this.tell(result, 'review');
      }
      return result;
    });
  }

  /** The applicant withdraws an application that has not gone to Fineract yet. */
  async withdraw(id: string, msisdn: string): Promise<ReviewResult> {
    const { record, changed } = await this.records.update(id, (a) =>
      a.msisdn !== msisdn || !['submitted', 'review'].includes(a.state) ? undefined : { ...a, state: 'withdrawn', updatedAt: this.now() },
    );
    if (!record || record.msisdn !== msisdn) return { outcome: 'not-found' };
    if (!changed)
      return record.state === 'withdrawn' ? { outcome: 'unchanged', application: record } : { outcome: 'conflict', application: record };
    await this.audited('application.withdrawn', record, {});
    await this.tell(record, 'withdrawn');
    return { outcome: 'done', application: record };
  }

  /** A reviewer declines an application waiting for review, with a reason. Repeating it answers the same. */
  async reject(id: string, operator: string, reason: string): Promise<ReviewResult> {
    const { record, changed } = await this.records.update(id, (a) =>
      a.state !== 'review' ? undefined : { ...a, state: 'rejected', reason, reviewedBy: operator, updatedAt: this.now() },
    );
    if (!record) return { outcome: 'not-found' };
    if (!changed)
      return record.state === 'rejected' ? { outcome: 'unchanged', application: record } : { outcome: 'conflict', application: record };
    await this.audited('application.rejected', record, { reason, operator }, `operator:${operator}`);
    await this.tell(record, 'rejected');
    return { outcome: 'done', application: record };
  }

  /**
   * A reviewer approves: review → approved (compare-and-set: one winner), then the application goes to
   * Fineract. Repeating the call, or a second reviewer racing the first, finishes the same sending (never a
   * second client or loan) and answers the application as it then is.
   */
  async approve(id: string, operator: string): Promise<ReviewResult> {
    const { record, changed } = await this.records.update(id, (a) =>
      a.state !== 'review' ? undefined : { ...a, state: 'approved', reviewedBy: operator, updatedAt: this.now() },
    );
    if (!record) return { outcome: 'not-found' };
    if (!changed && !['approved', 'in-core', 'core-approved', 'disbursed', 'closed'].includes(record.state))
      return { outcome: 'conflict', application: record };
    if (changed) await this.audited('application.approved', record, { operator }, `operator:${operator}`);
    if (record.state !== 'approved') return { outcome: 'unchanged', application: record };
    try {
      const sent = await this.sendToCore(id);
      return { outcome: changed ? 'done' : 'unchanged', application: sent };
    } catch (error) {
      this.options.logger.warn({ application: record.ref, err: { type: (error as Error)?.name } }, 'application not sent to Fineract yet');
      return { outcome: 'core-unavailable', application: (await this.get(id)) ?? record };
    }
  }

  /**
   * Creates the client when needed and submits the loan, once, for an approved application (also what a retry
   * after a crash or an outage calls). Serialised per application; each Fineract call is safe to repeat through
   * its external id.
   */
  async sendToCore(id: string): Promise<Application> {
    return withLock(this.options.store, this.records.key(`send:${id}`), { ttlMs: 60_000, waitMs: 30_000 }, async () => {
      const application = await this.get(id);
      if (!application) throw new Error('no such application');
      if (application.state !== 'approved') return application;
      const { core } = this.options;
      let clientId = application.clientId;
      if (clientId === undefined) {
        const profile = application.profileId ? await this.options.profiles.get(application.profileId) : undefined;
        if (!profile) throw new Error('the application has neither a client nor a profile');
        clientId = profile.clientId ?? (await core.clientByExternalId(profile.id)) ?? undefined;
        if (clientId === undefined) {
          try {
            clientId = await core.createClient({
              externalId: profile.id,
              firstname: profile.firstname ?? '',
              lastname: profile.lastname ?? '',
              mobileNo: profile.msisdn,
              dateOfBirth: profile.birthDate ?? '',
              nationalId: profile.nationalId ?? '',
              active: this.options.clientActive,
            });
          } catch (error) {
            if (!isDuplicate(error)) throw error;
            clientId = (await core.clientByExternalId(profile.id)) ?? undefined;
            if (clientId === undefined) throw error;
          }
          await this.options.audit.record({
            type: 'application.client',
            actor: 'system',
            clientId,
            msisdn: profile.msisdn,
            channel: 'admin',
            data: { profileId: profile.id, application: application.id, active: this.options.clientActive },
          });
        }
        await this.options.profiles.linkClient(profile.id, clientId);
        await this.carryPin(profile.id, clientId);
      }
      let loanId: number;
      let status: CoreLoanStatus = 'pending';
      const existing = await core.loanByExternalId(application.id);
      if (existing) ({ loanId, status } = existing);
      else {
        try {
          loanId = await core.submitLoan({
            externalId: application.id,
            clientId,
            productId: application.productId,
            principalCents: application.principalCents,
            repayments: application.repayments,
          });
        } catch (error) {
          const found = isDuplicate(error) ? await core.loanByExternalId(application.id) : null;
          if (!found) throw error;
          ({ loanId, status } = found);
        }
      }
      const { record } = await this.records.update(id, (a) =>
        a.state !== 'approved' ? undefined : { ...a, clientId, loanId, state: CORE_STATE[status], updatedAt: this.now() },
      );
      const sent = record ?? application;
      await this.audited('application.in-core', sent, { loanId, clientId });
      await this.tell(sent, 'in-core');
      return sent;
    });
  }

  /** Copies a profile's PIN record (the hash, never a PIN) to the new client's id, unless the client has one. */
  private async carryPin(profileId: string, clientId: number): Promise<void> {
    const { store, keys } = this.options;
    const from = await store.get(keys.pin(profilePinId(profileId)));
    if (!from || (await store.get(keys.pin(clientId)))) return;
    await store.set(keys.pin(clientId), from);
  }

  /**
   * Mirrors Fineract's status of an application's loan (the polling job and the loan hooks call it): a change is
   * written, audited and told by SMS; the same status again changes nothing.
   */
  async sync(id: string): Promise<Application | undefined> {
    const application = await this.get(id);
    if (!application) return undefined;
    if (application.state === 'approved') return this.sendToCore(id);
    if (application.loanId === undefined || !['in-core', 'core-approved', 'disbursed'].includes(application.state)) return application;
    const status = await this.options.core.loanStatus(application.loanId);
    const state = CORE_STATE[status];
    const { record, changed } = await this.records.update(id, (a) =>
      a.state === state || a.loanId === undefined ? undefined : { ...a, state, updatedAt: this.now() },
    );
    if (changed && record) {
      await this.audited('application.status', record, { loanId: record.loanId ?? null, status });
      await this.tell(record, state);
    }
    return record;
  }

  /** Every application waiting on Fineract: approved ones are sent again, the others mirrored. */
  async syncAll(limit = 500): Promise<number> {
    let changed = 0;
    for (const state of ['approved', 'in-core', 'core-approved'] as const) {
      for (const a of await this.list(state, limit)) {
        try {
          const after = await this.sync(a.id);
          if (after && after.state !== a.state) changed++;
        } catch (error) {
          this.options.logger.warn({ application: a.ref, err: { type: (error as Error)?.name } }, 'application status not read');
        }
      }
    }
    return changed;
  }

  /** The one line an applicant reads about an application (USSD list, SMS status). */
  statusLine(application: Application): string {
    return applicationStatusLine(this.options, application);
  }

  /** The SMS of one transition, in the applicant's language (GSM-7). */
  smsText(application: Application, event: string): string {
    return applicationSmsText(this.options, application, event);
  }

  private async tell(application: Application, event: string): Promise<void> {
    const key = `origination.sms.${event}`;
    if (!this.options.translator.has(this.options.translator.fallback, key)) return;
    await this.options.queue
      .add(
        SMS_JOB,
        { to: application.msisdn, text: this.smsText(application, event), ref: application.ref },
        { jobId: `application-${application.id}-${event}` },
      )
      .catch((error: unknown) => {
        this.options.logger.warn(
          { application: application.ref, event, err: { type: (error as Error)?.name } },
          'application SMS not queued',
        );
      });
  }

  private async audited(
    type: AuditType,
    application: Application,
    data: Record<string, string | number | boolean | null>,
    actor: `operator:${string}` | 'system' = 'system',
  ): Promise<void> {
    await this.options.audit
      .record({
        type,
        actor,
        ...(application.clientId !== undefined ? { clientId: application.clientId } : {}),
        msisdn: application.msisdn,
        channel: actor === 'system' ? application.channel : 'admin',
        data: { application: application.id, ref: application.ref, state: application.state, ...data },
      })
      .catch((error: unknown) => {
        this.options.logger.warn(
          { application: application.ref, audit: type, err: { type: (error as Error)?.name } },
          'application audit entry not written',
        );
      });
  }
}
