/**
 * The settings every benchmark runs Kiunga with (`npm run bench`, `npm run bench:cpu`), so that both measure
 * the same server: the sandbox on loopback as Fineract and messaging provider, limits that measure the abuse
 * checks without refusing the benchmark's customers, and the pepper the benchmark's PINs are stored with.
 */

/** The PIN pepper of the benchmark's customers (their PINs are written with it before Kiunga starts). */
export const BENCH_PEPPER = 'bench-pepper-0123456789abcdef';

export function kiungaBenchEnv(options: {
  redisUrl: string;
  prefix: string;
  fineractUrl: string;
  logLevel: string;
}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: options.prefix,
    FINERACT_URL: options.fineractUrl,
    // The sandbox on loopback stands in for Fineract and for the messaging provider: its unsafe settings
    // are expected (threat T27).
    KIUNGA_ALLOW_INSECURE: 'messaging,callback-key,fineract-password,sim-swap',
    FINERACT_SAVINGS_PRODUCTS: '1',
    FINERACT_LOAN_PRODUCTS: '1',
    FINERACT_RATE_LIMIT: '100000',
    FINERACT_MAX_CONCURRENT: '256',
    // Each customer makes hundreds of hops a minute: the abuse checks still run (their cost is measured) but
    // must not refuse them.
    LIMIT_NUMBER_PER_MIN: '100000',
    SMS_MAX_PER_HOUR: '10000',
    CALLBACK_MAX_PER_HOUR: '100',
    CALLBACK_MAX_PER_MINUTE: '100000',
    CALLBACK_DELAY_MS: '0',
    CALLBACK_RETRIES: '0',
    // `BAL <PIN>` by SMS is a journey measured (off by default, threats T6, T26).
    SMS_PIN_ENABLED: 'true',
    PIN_PEPPER: BENCH_PEPPER,
    HOP_DEADLINE_MS: '10000',
    TRANSFER_DAILY_LIMIT: '1000000',
    LOG_LEVEL: options.logLevel,
  };
}
