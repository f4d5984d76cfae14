import { randomBytes } from 'node:crypto';
import type { HopContext, HopScope } from '../session/hop-context.js';
import { shortHopKey } from './session-record.js';
import type { HopOutcome } from './turn-types.js';

/**
 * The session lock of a hop (turn-runner.ts takes and releases it): what the runner keeps of it through the
 * hop, and the lock's value, which tells its holder from every other hop and names the hop that holds it.
 */

/** The session lock held for one hop. */
export interface HopLock {
  lockKey: string;
  sessionKey: string;
  token: string;
  /** Set once the record was written and the lock released together. */
  released: boolean;
  /** How the hop ended, for the metrics; `failed` until a reply is chosen. */
  outcome: HopOutcome;
  /** The abuse limits refused the hop: the channel answers it, and the refusals metric counts it, not this one. */
  notAdmitted?: boolean;
  /** The hop's context (caller, deadline, scope), handed to the conversation and from it to the flow's actors. */
  context: HopContext & { readonly scope: HopScope };
}

/**
 * What makes each lock value this process takes unique: a random prefix drawn once per process (96 bits, so
 * no two processes share one), then a count. A lock value only has to tell its holder from every other hop's
 * (a hop that lost its lock must not release or overwrite the next holder's); it never leaves Redis, so it
 * need not be unpredictable, and one random draw per process replaces one per hop.
 */
const TOKEN_PREFIX = `${randomBytes(12).toString('base64url')}-`;
let tokenCount = 0;

/**
 * The session lock's value: unique (`TOKEN_PREFIX` and a count), then the holder's hop key (shortened, a
 * keyed hash already), so that a retry of that very hop can recognise the hop it is waiting for.
 */
export const lockToken = (hopKey: string): string => `${TOKEN_PREFIX}${(tokenCount++).toString(36)}.${shortHopKey(hopKey)}`;

/** True when the lock value `held` was taken by a hop with `hopKey` (`lockToken`). */
export const heldByHop = (held: string | null, hopKey: string): boolean => !!held && held.endsWith(`.${shortHopKey(hopKey)}`);
