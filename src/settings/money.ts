import { int, bool, type Setting } from './schemas.js';

/**
 * Money leaving an account: transfer amounts and daily limit, one-time codes, and when an uncertain transfer
 * stops being resolved.
 */
export const MONEY_SETTINGS = {
  TRANSFER_MIN: { help: 'Smallest amount one transfer or repayment may move (major units).', default: '10', schema: int(1, 1_000_000_000) },
  TRANSFER_MAX: {
    help: 'Largest amount one transfer or repayment may move (major units).',
    default: '70000',
    schema: int(1, 1_000_000_000),
  },
  TRANSFER_DAILY_LIMIT: {
    help: 'Most a customer may move per business day, all channels together (major units).',
    default: '150000',
    schema: int(1, 1_000_000_000),
  },
  OTP_THRESHOLD: {
    help:
      'A transfer or repayment of this amount or more (major units of CURRENCY) needs the PIN and then a one-time code sent by ' +
      'SMS, bound to the amount and the payee (threat T31).',
    default: '10000',
    schema: int(1, 1_000_000_000),
  },
  OTP_NEW_PAYEE: {
    help: 'true: sending to a customer this customer has never paid successfully also needs a one-time code by SMS, whatever the amount.',
    default: 'false',
    schema: bool,
  },
  TRANSFER_RESOLVE_MAX_AGE_S: {
    help: 'A transfer whose outcome is still unknown this long after it was confirmed is only looked for in Fineract, never sent again; the customer is told by SMS and operators see it at GET /admin/transfers?status=uncertain.',
    default: '900',
    schema: int(1, 7 * 24 * 3600),
  },
} satisfies Record<string, Setting>;
