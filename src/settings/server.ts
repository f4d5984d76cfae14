import { z } from 'zod';
import { int, url, type Setting } from './schemas.js';

/** The server itself: where it listens, its public URL, Redis and the clock check against Redis. */
export const SERVER_SETTINGS = {
  PORT: { help: 'HTTP port the server listens on.', default: '3000', schema: int(0, 65535) },
  HOST: { help: 'Address the server binds to.', default: '0.0.0.0', schema: z.string().min(1) },
  PUBLIC_URL: {
    help: 'Public base URL the aggregators call (used to check Twilio signatures).',
    schema: url(['http:', 'https:']),
  },
  REDIS_URL: {
    help:
      'Redis for sessions, locks, PIN records and lockouts, shared by all processes. redis://, rediss://, ' +
      'redis-sentinel://host:port,host:port/master or redis-cluster://host:port,host:port. Unset: in-process ' +
      'stores (one process, nothing survives a restart).',
    schema: z.string().trim().min(1),
  },
  REDIS_PREFIX: { help: 'Prefix of every Redis key.', default: 'kiunga', schema: z.string().regex(/^[A-Za-z0-9_.-]+$/) },
  CLOCK_SKEW_MAX_MS: {
    help:
      "Largest difference allowed between this process's clock and Redis's (read with the kill switches, every " +
      '250 ms). Beyond it the process is unready (/readyz: clock), makes no Fineract, SMS or call requests and runs ' +
      "no jobs, because the shared rate limits and delayed jobs trust each caller's clock; it resumes by itself.",
    default: '1000',
    schema: int(100, 60_000),
  },
} satisfies Record<string, Setting>;
