/**
 * The audit trail's contract (threat T16): what the domain modules hand over. The trail itself (a Redis
 * stream, hash-chained, with signed checkpoints) lives in `audit-log.ts`; callers only ever see this.
 *
 * An entry never holds a PIN, a one-time code, a token or a full phone number: `msisdn` is masked by the
 * trail before it is written, and `data` is checked against the secret-looking names in `FORBIDDEN_DATA`.
 */
import type { HopContext } from '../session/hop-context.js';

/** Every kind of entry. Add a type here before writing it; `kiunga audit verify` and the console read them. */
export const AUDIT_TYPES = [
  // identity
  'pin.ok',
  'pin.failed',
  'pin.locked',
  'pin.unlocked',
  'pin.changed',
  'enrolment.started',
  'enrolment.completed',
  'otp.sent',
  'otp.verified',
  'otp.failed',
  'otp.revoked',
  // money
  'money.attempt',
  'money.outcome',
  // approvals (issue 11): one entry per transition of an approval
  'approval.requested',
  'approval.approved',
  'approval.rejected',
  'approval.expired',
  'approval.cancelled',
  'approval.executing',
  'approval.executed',
  'approval.failed',
  'mandate.changed',
  // agents (issue 11, threat T14): a movement refused by an agent limit (data.rule names it)
  'agent.limit',
  'agent.changed',
  // an agent keyed an ID number that is none of the customer's active identifiers (AGENT_CASHOUT_ID_CHECK)
  'agent.id-mismatch',
  // sign-up and loan applications (issue 12): the consent names the terms' version; one entry per transition
  'signup.consent',
  'signup.completed',
  'application.submitted',
  'application.declined',
  'application.review',
  'application.approved',
  'application.rejected',
  'application.withdrawn',
  'application.client',
  'application.in-core',
  'application.status',
  // operators
  'switch.changed',
  'switch.requested',
  'admin.call',
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

/** Who did it: `customer:<clientId>`, `operator:<name>`, or `system`. */
export type AuditActor = `customer:${string}` | `operator:${string}` | 'system';

export interface AuditEvent {
  type: AuditType;
  actor: AuditActor;
  /** The Fineract client concerned, if any. */
  clientId?: number;
  /** The phone number concerned (E.164); the trail stores it masked. */
  msisdn?: string;
  /** The channel the customer used (ussd, sms, voice), or `admin`. */
  channel?: string;
  /** Flat facts: amounts in minor units, idempotency keys, Fineract ids, outcomes, reasons. No secrets. */
  data?: Record<string, string | number | boolean | null>;
}

/** Names a `data` field may never have (the trail refuses such an event rather than write it). */
export const FORBIDDEN_DATA = /pin|otp|code|token|secret|password|pepper/i;

export interface AuditTrail {
  /**
   * Appends one entry; resolves once it is in the stream. Never throws for a well-formed event. With `hop`
   * (the hop's context, session/hop-context.ts, with its scope) the entry is appended together with the
   * session record's write, in its round trip, and this resolves at once: the hop is answered only after the
   * entry is written.
   */
  record(event: AuditEvent, options?: { hop?: HopContext }): Promise<void>;
}
