import type { z } from 'zod';
import type { Logger } from '../logger.js';
import type { CountryCode } from '../text/phone.js';
import { FineractUnexpectedShape } from './errors.js';
import type { FineractRequester, RequestOptions } from './http.js';
import type { CallOptions } from './types.js';

/**
 * What the Fineract client's calls share: client.ts builds it once and hands it to each area's calls
 * (client-customers.ts, client-transfers.ts, client-holds.ts, client-origination.ts).
 */
export interface ClientCore {
  /** The request layer: a direct connection or the gateway. */
  http: FineractRequester;
  log: Logger | undefined;
  /** Country for numbers stored without a country code (`0711000001`). */
  country: CountryCode;
  /** GET + runtime shape check; a malformed answer is an unavailable Fineract (FineractUnexpectedShape), not a crash. */
  get<S extends z.ZodType>(
    schema: S,
    path: string,
    query?: Record<string, string | boolean>,
    options?: Pick<RequestOptions, 'readFrom'>,
    call?: CallOptions,
  ): Promise<z.infer<S>>;
  /** The tenant's business date, `yyyy-mm-dd`. */
  businessDate(): Promise<string>;
}

/** The shape-checked GET of a ClientCore, on this request layer. */
export function shapeCheckedGet(http: FineractRequester): ClientCore['get'] {
  return async function get<S extends z.ZodType>(
    schema: S,
    path: string,
    query?: Record<string, string | boolean>,
    options: Pick<RequestOptions, 'readFrom'> = {},
    call?: CallOptions,
  ): Promise<z.infer<S>> {
    const raw = await http.request('GET', path, {
      ...(query ? { query } : {}),
      ...options,
      ...deadlineOf(call),
      ...(call?.priority ? { priority: call.priority } : {}),
    });
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const at = parsed.error.issues[0]?.path.join('.') || '(root)';
      throw new FineractUnexpectedShape(`Fineract answered GET ${path} with an unexpected shape (at ${at})`);
    }
    return parsed.data;
  };
}

/** The gateway's `deadlineAt` of a call: its own, else its hop's (`HopContext.deadline`). */
export function deadlineOf(call: CallOptions | undefined): { deadlineAt?: number } {
  const deadlineAt = call?.deadlineAt ?? call?.hop?.deadline;
  return deadlineAt === undefined ? {} : { deadlineAt };
}
