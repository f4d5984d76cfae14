import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ChallengeIntent } from '../security/challenge.js';
import { payeeOf, type TransferIntent } from '../money/transfer-types.js';
import { maskName } from '../text/names.js';
import type { FlowContext } from './types.js';
import { PURPOSES } from './registry-money-manifest.js';

/**
 * The money intent fixed when the confirmation screen is entered (threat T24): a random idempotency key and
 * exactly what the customer is shown and asked to confirm. Kept in the session context.
 */
export const pendingIntentSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  kind: z.enum(PURPOSES),
  clientId: z.number().int(),
  fromAccountId: z.number().int(),
  toClientId: z.number().int(),
  toOfficeId: z.number().int(),
  toAccountId: z.number().int(),
  toType: z.enum(['savings', 'loan']),
  amountCents: z.number().int().positive(),
  currency: z.string().min(3).max(3),
  counterparty: z.string(),
  recipientMsisdn: z.string().optional(),
  /** A business account's owner, when an initiator pays from it (issue 11); absent: the customer's own account. */
  fromClientId: z.number().int().optional(),
  fromOfficeId: z.number().int().optional(),
  /**
   * The source's currency decimal places, from the read that checked its ownership, activity and balance when
   * this intent was fixed (checkAmount): present, the transfer does not read the source again.
   */
  fromDecimals: z.number().int().min(0).max(6).optional(),
});
export type PendingIntent = z.infer<typeof pendingIntentSchema>;

/** A fresh idempotency key: 128 random bits as 32 hex characters (Fineract's column holds 50). */
export const newTransferKey = () => randomBytes(16).toString('hex');

/** What a payment code is bound to (threat T31): any other amount, currency, payee or source account voids it. */
export function challengeIntentOf(p: PendingIntent): ChallengeIntent {
  return {
    purpose: 'money',
    clientId: p.clientId,
    amountCents: p.amountCents,
    currency: p.currency,
    payee: payeeOf({ type: p.toType, accountId: p.toAccountId }),
    source: String(p.fromAccountId),
  };
}

/** The intent as the challenge keeps it for a redial (`resume`): ids, amount and the masked label, no secret. */
export function resumeOf(p: PendingIntent): Record<string, string | number> {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string | number>;
}

/** The intent fixed on the confirmation screen as the transfer service moves it; `customer` dialled. */
export function transferIntentOf(
  context: FlowContext,
  customer: NonNullable<FlowContext['customer']>,
  pending: PendingIntent,
): TransferIntent {
  return {
    id: pending.id,
    ref: pending.id.slice(0, 8).toUpperCase(),
    kind: pending.kind,
    msisdn: context.msisdn,
    lang: context.lang,
    from: {
      clientId: pending.fromClientId ?? customer.clientId,
      officeId: pending.fromOfficeId ?? customer.officeId,
      accountId: pending.fromAccountId,
    },
    to: { clientId: pending.toClientId, officeId: pending.toOfficeId, accountId: pending.toAccountId, type: pending.toType },
    amountCents: pending.amountCents,
    currency: pending.currency,
    counterparty: pending.counterparty,
    recipientMsisdn: pending.recipientMsisdn,
    senderLabel: maskName(customer.displayName),
    // The confirmation's read checked the source (and the loan came from the customer's own accounts and
    // was read with its owner checked): the transfer sends only the POST.
    ...(pending.fromDecimals !== undefined
      ? { checked: { sourceDecimalPlaces: pending.fromDecimals, loan: pending.kind === 'loan' } }
      : {}),
  };
}

/** The transfer intent a money journey's context holds for its customer (the confirmation screen's), if any. */
export function sessionIntent(context: FlowContext): TransferIntent | undefined {
  const customer = context.customer;
  const stored = context.data.transfer;
  if (!customer || typeof stored !== 'string') return undefined;
  let parsed;
  try {
    parsed = pendingIntentSchema.safeParse(JSON.parse(stored));
  } catch {
    return undefined;
  }
  return parsed.success && parsed.data.clientId === customer.clientId ? transferIntentOf(context, customer, parsed.data) : undefined;
}
