import { FineractNotFound, FineractRejected } from './errors.js';

/**
 * What Kiunga puts into a Fineract path, header or body, checked or cleaned first (T18): ids, keys, external
 * ids, dates, amounts and descriptions. A value that fails is refused before anything is sent.
 */

const DESCRIPTION_MAX = 200;

/**
 * What Fineract stores as a transfer description (T18): accents folded, anything outside printable ASCII
 * dropped, whitespace collapsed, at most 200 characters. `findTransfer` compares against the same form.
 */
export function sanitizeDescription(text: string, max = DESCRIPTION_MAX): string {
  return text
    .normalize('NFKD')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, max)
    .trimEnd();
}

/** Ids go into URL paths: only positive integers, so customer input can never reach a path (T18). */
export function id(value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new FineractNotFound(`invalid Fineract id`, 'error.msg.resource.not.found');
  return value;
}

export const rejected = (message: string, code: string): FineractRejected => new FineractRejected(message, 400, code);

/** Header-safe key: printable ASCII without spaces, 1 to 50 characters (m_portfolio_command_source.idempotency_key is VARCHAR(50)). */
export function idempotencyKey(key: string): string {
  if (!/^[\x21-\x7e]{1,50}$/.test(key))
    throw rejected('idempotency key must be 1-50 printable ASCII characters', 'kiunga.idempotency.key.invalid');
  return key;
}

/** External ids go into a body and a query: printable ASCII, 1 to 100 characters (m_client/m_loan.external_id). */
export function externalId(value: string): string {
  if (!/^[\x21-\x7e]{1,100}$/.test(value))
    throw rejected('external id must be 1-100 printable ASCII characters', 'kiunga.externalId.invalid');
  return value;
}

export const isoDate = (value: string, what: string): string => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw rejected(`${what} is not yyyy-mm-dd`, 'validation.msg.invalid.date.format');
  return value;
};

/**
 * Minor units as the JSON number Fineract reads exactly: at most 13 integer digits, so the double prints back as
 * the same decimal.
 */
export function minorToDecimal(minor: number, decimalPlaces: number): number {
  const scale = 10 ** decimalPlaces;
  if (Math.floor(minor / scale) >= 1e13) throw rejected('amount is too large', 'validation.msg.invalid.decimal.format');
  return minor / scale;
}

/**
 * A decimal string ("500", "500.5", "500.00") as the JSON number Fineract reads exactly: positive, no more
 * decimals than the currency has, at most 13 integer digits (so the double prints back as the same decimal).
 */
export function decimalAmount(amount: string, decimalPlaces: number): number {
  const m = /^(\d{1,13})(?:\.(\d+))?$/.exec(amount.trim());
  if (!m || (m[2] ?? '').length > decimalPlaces) {
    throw rejected(`amount must be a decimal with at most ${decimalPlaces} decimal places`, 'validation.msg.invalid.decimal.format');
  }
  const value = Number(amount.trim());
  if (!(value > 0)) throw rejected('amount must be greater than 0', 'validation.msg.accounttransfer.transferAmount.not.greater.than.zero');
  return value;
}
