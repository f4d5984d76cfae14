import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Paths pino removes from every log line. AT repeats every earlier input (the PIN included) in `text`, so
 * request bodies are never logged whole; these paths are the second line of defence.
 */
export const REDACT_PATHS = [
  'text',
  'input',
  'value',
  'pin',
  '*.text',
  '*.input',
  '*.value',
  '*.pin',
  '*.password',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'req.body',
  'event.value',
];

/**
 * How `err` is written. A real error gives its type, message, code and stack only, never its other fields
 * (pino's standard serializer writes them all, and an ioredis error carries its command's arguments: keys,
 * hashes, session records). A plain object, what most lines pass (`{ type, message }`), is written as given
 * (the standard serializer would call its type `Object`).
 */
export function serializeErr(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), stack: err.stack };
}

/** Creates the process logger; `destination` lets tests capture lines. */
export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'kiunga' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeErr },
    },
    destination,
  );
}

/** Masks a phone number for logs and metrics: +254711000001 -> +2547******01. */
export function maskMsisdn(msisdn: string): string {
  if (msisdn.length <= 6) return '*'.repeat(msisdn.length);
  return msisdn.slice(0, 5) + '*'.repeat(Math.max(0, msisdn.length - 7)) + msisdn.slice(-2);
}

export type { Logger };
