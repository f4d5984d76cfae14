import { z } from 'zod';
import { int, bool, type Setting } from './schemas.js';

/**
 * Who may do what: the Fineract hook's secret, the admin API's operators and listener, the customers' PINs,
 * lockout and enrolment.
 */
export const ACCESS_SETTINGS = {
  FINERACT_HOOK_SECRET: {
    help:
      'Secret of the Fineract hook URL (Fineract signs nothing): register the "Web" hook with Payload URL ' +
      'https://<host>/hooks/fineract/<secret>/ (Fineract needs the trailing / and drops any query string, so the ' +
      'secret is a path segment; Kiunga never logs it). Letters, digits and . _ ~ - only. Unset: every hook is refused (403).',
    schema: z
      .string()
      .min(16, 'must be at least 16 characters')
      .regex(/^[A-Za-z0-9._~-]+$/, 'must be letters, digits and . _ ~ - only (it is a URL path segment)'),
    secret: true,
  },
  ADMIN_TOKEN: {
    help: 'Bearer token of one operator named `admin` (kept for older deployments; ADMIN_TOKENS names each operator). Neither set: admin API disabled.',
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  ADMIN_TOKENS: {
    help:
      'Operators of the admin API, `name:token,name2:token2` (names: a-z 0-9 . _ -; tokens at least 16 characters, ' +
      "24 against a real Fineract). Each call is audited with the operator's name.",
    schema: z.string().trim().min(1),
    secret: true,
  },
  ADMIN_HOST: {
    help: 'Address the separate admin listener binds to (with ADMIN_PORT).',
    default: '127.0.0.1',
    schema: z.string().trim().min(1),
  },
  ADMIN_PORT: {
    help: 'Serve /admin (API, console, OpenAPI document) only on this port of ADMIN_HOST; the public port then answers 404 for /admin. Unset: /admin on the public port.',
    schema: int(1, 65535),
  },
  ADMIN_FOUR_EYES: {
    help: 'Switching `money` or `all` back on needs a second, different operator to confirm within 15 minutes.',
    default: 'false',
    schema: bool,
  },
  ADMIN_RATE_PER_MIN: {
    help: 'Admin API calls per minute per source address, and per operator (429 with Retry-After beyond).',
    default: '120',
    schema: int(1, 100000),
  },
  PIN_PEPPER: {
    help:
      'Server secret that keys PIN hashes; never stored in Redis. Required with FINERACT_URL; the sandbox uses a ' +
      'development default and says so.',
    schema: z.string().min(16, 'must be at least 16 characters'),
    secret: true,
  },
  PIN_MAX_FAILURES: {
    help:
      'Wrong PINs in a row (within 24 h; counted per customer and per number, across every channel and process) ' +
      'that lock the PIN. A right PIN clears the count.',
    default: '3',
    schema: int(1, 10),
  },
  PIN_LOCK_S: {
    help:
      'Seconds the first lock lasts; each further lock doubles it (30 min, 60 min, 120 min ...). A lock is ' +
      'remembered for escalation until 24 h after it ended. The customer is told by SMS.',
    default: '1800',
    schema: int(1, 7 * 86_400),
  },
  PIN_HARD_LOCK_AFTER: {
    help:
      'Timed locks in a row before the next lock is hard (lasts until an operator unlocks: DELETE ' +
      '/admin/customers/<clientId>/pin/lock). 0: every lock is hard.',
    default: '3',
    schema: int(0, 20),
  },
  ENROLMENT_MODE: {
    help:
      'Who starts an enrolment (threat T11). operator: an operator enrols a customer (POST /admin/enrolments), ' +
      'who then gets an activation code by SMS. self: a registered client with no PIN who dials is sent the code ' +
      'at once, unless the SIM was swapped recently (T4: that customer is sent to a branch).',
    default: 'operator',
    schema: z.enum(['operator', 'self']),
  },
  SUPPORT_PHONE: {
    help: 'The number the "Your PIN was changed. Not you? Call ..." SMS gives. Empty: the SMS says "customer care".',
    default: '',
    schema: z.string().max(20),
  },
} satisfies Record<string, Setting>;
