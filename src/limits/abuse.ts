import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Request } from 'express';
import type { Logger } from '../logger.js';
import { maskMsisdn } from '../logger.js';
import { tagSafe, type Keys } from '../session/keys.js';
import type { KeyValueStore } from '../session/store.js';
import { createTokenBuckets, type BucketSpec, type TakeResult, type TokenBuckets } from './buckets.js';

/**
 * Abuse limits on every channel route, checked before the turn runner and before any Fineract lookup
 * (threats T22, T28): a bucket per phone number and a bucket per source address (the TCP peer), each
 * holding a minute's worth of requests, taken together in one Redis round trip.
 *
 * An aggregator (Africa's Talking, Twilio) sends all its customers from a few addresses, so its addresses
 * are listed in TRUSTED_SOURCES and get no per-source bucket: one busy address there is thousands of
 * customers, not one caller. For them the per-number buckets and the cap on lookups of unknown numbers
 * (FINERACT_UNKNOWN_LOOKUP_SHARE) do the work.
 *
 * When the store cannot answer, requests pass (logged at most every 5 s): the turn runner answers them
 * politely without the store anyway, and a limiter must not turn a Redis outage into a refusal of all.
 */

export type AbuseBucket = 'number' | 'source';

export type Admission = { ok: true } | { ok: false; bucket: AbuseBucket; retryAfterS: number };

export interface AbuseLimiter {
  /** Takes one token from the number's and (unless trusted) the source's bucket; one round trip. */
  admit(request: { source?: string; msisdn?: string }): Promise<Admission>;
  /** True when `source` is one of TRUSTED_SOURCES. */
  trusted(source: string | undefined): boolean;
}

export interface AbuseLimiterOptions {
  store: KeyValueStore;
  keys: Keys;
  /** LIMIT_NUMBER_PER_MIN. */
  numberPerMin: number;
  /** LIMIT_SOURCE_PER_MIN. */
  sourcePerMin: number;
  /** TRUSTED_SOURCES: IPs and CIDRs. */
  trustedSources: readonly string[];
  logger?: Logger;
  /** Shared buckets (tests); default: on `store`. */
  buckets?: TokenBuckets;
}

/** A key of the abuse buckets: one hash tag for all, so one script may take from several (Cluster-safe). */
export function abuseKey(keys: Keys, kind: string, id: string): string {
  return `${keys.prefix}:{abuse}:${kind}:${tagSafe(id)}`;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) as `10.0.0.1`. */
export function plainAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

/** The source address of a request: Express's `req.ip` (the TCP peer unless `trust proxy` is set). */
export const sourceOf = (req: Pick<Request, 'ip' | 'socket'>): string | undefined => plainAddress(req.ip ?? req.socket?.remoteAddress);

export function trustedSourceList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    if (!family) throw new TypeError(`not an IP address or CIDR: ${entry}`);
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

const ERROR_LOG_INTERVAL_MS = 5000;
/** Source addresses whose TRUSTED_SOURCES verdict is kept (`trusted`). */
const TRUSTED_VERDICTS = 1024;
const ADMITTED: Admission = Object.freeze({ ok: true });

export function createAbuseLimiter(options: AbuseLimiterOptions): AbuseLimiter {
  const { keys, logger } = options;
  const buckets = options.buckets ?? createTokenBuckets(options.store);
  const trustedList = trustedSourceList(options.trustedSources);
  const perMinute = (n: number) => ({ capacity: n, perSecond: n / 60 });
  let lastErrorLog = -Infinity;

  const check = (source: string): boolean => {
    if (isIPv4(source)) return trustedList.check(source, 'ipv4');
    if (isIPv6(source)) return trustedList.check(source, 'ipv6');
    return false;
  };
  // Every hop asks for its source; `BlockList.check` parses the address each time. A few aggregator addresses
  // send nearly every hop, so the answers are kept, at most TRUSTED_VERDICTS of them (then forgotten at once).
  const verdicts = new Map<string, boolean>();
  const trusted = (source: string | undefined): boolean => {
    if (!source) return false;
    let verdict = verdicts.get(source);
    if (verdict === undefined) {
      verdict = check(source);
      if (verdicts.size >= TRUSTED_VERDICTS) verdicts.clear();
      verdicts.set(source, verdict);
    }
    return verdict;
  };

  return {
    trusted,
    // A promise chain, not an async method: it runs on every hop, and each promise is an allocation and a microtask.
    admit({ source, msisdn }) {
      const specs: (BucketSpec & { bucket: AbuseBucket })[] = [];
      if (msisdn) specs.push({ bucket: 'number', key: abuseKey(keys, 'n', msisdn), ...perMinute(options.numberPerMin) });
      if (source && !trusted(source))
        specs.push({ bucket: 'source', key: abuseKey(keys, 's', source), ...perMinute(options.sourcePerMin) });
      if (specs.length === 0) return Promise.resolve(ADMITTED);
      let taking: Promise<TakeResult>;
      try {
        taking = buckets.take(specs);
      } catch (err) {
        taking = Promise.reject(err as Error);
      }
      return taking.then(
        (result): Admission =>
          result.ok
            ? ADMITTED
            : { ok: false, bucket: specs[result.refused]!.bucket, retryAfterS: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) },
        (err: unknown): Admission => {
          const t = performance.now();
          if (t - lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
            lastErrorLog = t;
            logger?.warn(
              { reason: (err as Error)?.message, msisdn: msisdn ? maskMsisdn(msisdn) : undefined },
              'abuse limits unavailable; request let through',
            );
          }
          return ADMITTED;
        },
      );
    },
  };
}
