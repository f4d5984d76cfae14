import { z } from 'zod';
import { DEFAULT_CURRENCY, DEFAULT_TIMEZONE } from '../constants.js';
import { int, url, productIds, type Setting } from './schemas.js';

/**
 * Fineract: where it is, its service user, the shared rate limits, cache and timeout, the products shown, and
 * the tenant's time zone and currency.
 */
export const FINERACT_SETTINGS = {
  FINERACT_URL: {
    help:
      'Fineract API base, e.g. https://fineract:8443/fineract-provider/api/v1. Unset: the built-in sandbox ' +
      'with the demo data is started in-process.',
    schema: url(['http:', 'https:']),
  },
  FINERACT_READ_URLS: {
    help: 'Comma-separated Fineract read replicas (reads only).',
    default: '',
    schema: z.string(),
  },
  FINERACT_TENANT: { help: 'Fineract tenant identifier.', default: 'default', schema: z.string().min(1) },
  FINERACT_USERNAME: { help: 'Fineract service user.', default: 'mifos', schema: z.string().min(1) },
  FINERACT_PASSWORD: {
    help: 'Fineract service user password.',
    default: 'password',
    schema: z.string().min(1),
    secret: true,
  },
  FINERACT_RATE_LIMIT: {
    help: 'Requests per second to Fineract, shared by all processes.',
    default: '50',
    schema: int(1, 100_000),
  },
  FINERACT_UNKNOWN_LOOKUP_SHARE: {
    help:
      'Share of FINERACT_RATE_LIMIT that lookups of numbers Kiunga has never matched to a customer may use, shared ' +
      'by all processes; beyond it such a hop is answered "try later" without calling Fineract, so a flood of ' +
      'random numbers cannot starve returning customers (threat T28). 0 refuses every new number, 1 disables the cap.',
    default: '0.2',
    schema: z
      .string()
      .trim()
      .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
      .transform(Number),
  },
  FINERACT_RATE_LOCAL_SHARE: {
    help:
      'Share of FINERACT_RATE_LIMIT and FINERACT_MAX_CONCURRENT that the live processes split among themselves and ' +
      'spend from memory, so a call far under the limit costs no Redis round trip; the rest is shared through ' +
      'Redis, and the sum never exceeds the limits. A process takes its part once the others have counted it ' +
      '(up to about 30 s after start-up; at once when alone). 0 disables it; at most 0.5.',
    default: '0.2',
    schema: z
      .string()
      .trim()
      .regex(/^0(\.\d+)?$/, 'must be a number from 0 to 0.5')
      .transform(Number)
      .pipe(z.number().max(0.5, 'must be a number from 0 to 0.5')),
  },
  FINERACT_MAX_CONCURRENT: {
    help: 'Requests in flight to Fineract at once, shared by all processes.',
    default: '16',
    schema: int(1, 10_000),
  },
  FINERACT_CACHE_TTL_S: {
    help: 'How long lookups (client by phone, account lists) are cached in Redis; balances are never cached.',
    default: '300',
    schema: int(0, 86_400),
  },
  FINERACT_TIMEOUT_MS: { help: 'Timeout of one Fineract request.', default: '2500', schema: int(100, 60_000) },
  FINERACT_SAVINGS_PRODUCTS: {
    help: 'Comma-separated savings product ids shown on channels (empty: all; sandbox default: 1).',
    schema: productIds,
  },
  FINERACT_LOAN_PRODUCTS: {
    help: 'Comma-separated loan product ids shown on channels (empty: all; sandbox default: 1).',
    schema: productIds,
  },
  TIMEZONE: {
    help: "The Fineract tenant's time zone (IANA, its timezone_id). Transfer dates and daily limits follow Fineract's business date: read from Fineract when its business date feature is on, else today in this zone.",
    default: DEFAULT_TIMEZONE,
    schema: z.string().refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone, e.g. Africa/Nairobi'),
  },
  CURRENCY: {
    help: 'Currency of channel accounts (ISO 4217), used for limits and receipts.',
    default: DEFAULT_CURRENCY,
    schema: z.string().regex(/^[A-Z]{3}$/),
  },
} satisfies Record<string, Setting>;
