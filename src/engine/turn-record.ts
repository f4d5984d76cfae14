import type { KeyValueStore } from '../session/store.js';
import type { ConversationState } from './conversation.js';
import type { TurnReply } from './types.js';
import { decodeRecord, encodeRecord, shortHopKey, type SessionRecord } from './session-record.js';
import { flushWrites } from '../session/hop-context.js';
import type { ChannelProfile, TurnRequest } from './turn-types.js';
import type { HopLock } from './turn-lock.js';
import type { HopLog } from './turn-log.js';

/**
 * A hop's session record (turn-runner.ts): read from what the lock's round trip brought, and written with the
 * hop's answer, its deferred writes and the lock's release in one round trip.
 */

/**
 * Writes the hop's record (`state`, or what `previous` held, with this hop's key and `reply`) and releases the
 * lock, with the hop's deferred writes; marks the lock released.
 */
export async function saveRecord(
  store: KeyValueStore,
  hop: HopLock,
  profile: ChannelProfile,
  previous: SessionRecord | undefined,
  req: TurnRequest,
  transport: unknown,
  reply: TurnReply,
  state: (ConversationState & { flowId: string; flowVersion: string }) | undefined,
  view: unknown,
): Promise<void> {
  const base = state ?? previous;
  const { scope } = hop.context;
  const record: SessionRecord = {
    flowId: base?.flowId ?? req.flowId,
    flowVersion: base?.flowVersion ?? '',
    snapshot: base?.snapshot ?? null,
    history: base?.history ?? [],
    msisdn: req.msisdn,
    serviceCode: req.serviceCode,
    ended: reply.end,
    transport,
    ...(view === undefined ? {} : { view }),
    hopKeys: [...(previous?.hopKeys ?? []), shortHopKey(req.hopKey)],
    reply,
    ...(scope.facts.size > 0 ? { facts: Object.fromEntries(scope.facts) } : {}),
  };
  // The hop's deferred writes (an audit entry, the language) go in the same round trip as the record.
  const saving = store.setAndUnlock(hop.sessionKey, encodeRecord(record, previous), profile.ttlMs, hop.lockKey, hop.token);
  if (scope.writes.length > 0) {
    const [saved] = await Promise.allSettled([saving, flushWrites(scope)]);
    if (saved.status === 'rejected') throw saved.reason;
  } else await saving;
  hop.released = true;
}

/** The session record in `raw`, or undefined when there is none or it cannot be read. */
export function readRecord(raw: string | null, log: HopLog): SessionRecord | undefined {
  if (!raw) return undefined;
  try {
    return decodeRecord(raw);
  } catch {
    log.warn('unreadable session record ignored');
    return undefined;
  }
}
