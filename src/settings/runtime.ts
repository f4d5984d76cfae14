import { z } from 'zod';
import { int, bool, type Setting } from './schemas.js';

/**
 * How a deployment runs: where flows, catalogue and locales are read from, the built-in sandbox, the SIM-swap
 * check, the acknowledged unsafe settings, the simulator and the log level.
 */
export const RUNTIME_SETTINGS = {
  FLOWS_DIR: { help: 'Directory of flow files.', default: 'flows', schema: z.string().min(1) },
  CATALOGUE_FILE: {
    help: 'The product catalogue: which products each channel shows, and their terms (default: catalogue.yaml in FLOWS_DIR; a file named here must exist, or the server refuses to start). Without the default file, FINERACT_SAVINGS_PRODUCTS and FINERACT_LOAN_PRODUCTS decide which accounts are shown.',
    schema: z.string().min(1),
  },
  LOCALES_DIR: { help: 'Directory of locale files.', default: 'locales', schema: z.string().min(1) },
  SANDBOX_CUSTOMERS: {
    help: 'Extra synthetic sandbox customers for load tests: +254720000000, +254720000001, ... with PIN 4321.',
    default: '0',
    schema: int(0, 100_000),
  },
  SANDBOX_SIM_SWAPPED: {
    help: 'Sandbox only: comma-separated E.164 numbers whose SIM counts as just swapped (transfers refused, threat T4).',
    default: '',
    schema: z.string(),
  },
  SIM_SWAP_PROVIDER: {
    help:
      'SIM-swap check before money leaves an account (threat T4): sandbox (SANDBOX_SIM_SWAPPED), africastalking (AT ' +
      'Insights through the africastalking SDK; needs AT_USERNAME, AT_API_KEY, AT_CALLBACK_KEY and the SIM-swap ' +
      'callback URL in the AT dashboard) or none. Unset: sandbox without FINERACT_URL, none with it. A check that ' +
      'cannot answer refuses the transfer (fails closed).',
    schema: z.enum(['sandbox', 'africastalking', 'none']),
  },
  SIM_SWAP_MAX_AGE_DAYS: {
    help: 'A SIM changed within this many days blocks money-out (the customer is sent to a branch).',
    default: '7',
    schema: int(1, 365),
  },
  SIM_SWAP_WAIT_MS: {
    help:
      "How long a transfer waits for Africa's Talking's SIM-swap answer (it arrives by callback); past it the " +
      'customer is asked to try again shortly and no money moves. Keep it well under HOP_DEADLINE_MS.',
    default: '1500',
    schema: int(100, 10_000),
  },
  SIM_SWAP_CACHE_S: {
    help: "How long one Africa's Talking SIM-swap answer is reused for the same number (each check is billed).",
    default: '3600',
    schema: int(0, 86_400),
  },
  KIUNGA_ALLOW_INSECURE: {
    help:
      'With FINERACT_URL set, Kiunga refuses to start while a setting is unsafe (threat T27): MESSAGING_PROVIDER=sandbox ' +
      '(messaging), no AT_CALLBACK_KEY (callback-key), the default FINERACT_PASSWORD (fineract-password), no SIM-swap ' +
      'check (sim-swap). Comma-separated words acknowledge each one explicitly; each is logged as a warning at start.',
    default: '',
    schema: z.string(),
  },
  SIMULATOR: {
    help: 'Serve the browser phone at /simulator. Unset: served with the built-in sandbox, not against a real Fineract.',
    schema: bool,
  },
  SANDBOX_PORT: { help: 'Port of `kiunga sandbox`.', default: '8080', schema: int(0, 65535) },
  LOG_LEVEL: {
    help: 'pino log level.',
    default: 'info',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  },
} satisfies Record<string, Setting>;
