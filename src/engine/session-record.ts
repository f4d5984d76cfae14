import type { StateValue } from 'xstate';
import type { ConversationState } from './conversation.js';
import type { TurnReply } from './types.js';

/**
 * The session record as the turn runner uses it, and as it is kept in the store (one key per session, written
 * with the lock's release every hop), in a compact form: short field names, the hop keys shortened, the last
 * reply only (the one a retry gets), and nothing of the machine once the session ended (a hop after the end
 * gets the last reply again, nothing else is read). Records written before this form (`v: 1`) are still read,
 * so a deployment mid-session keeps its sessions.
 */
export interface SessionRecord extends ConversationState {
  flowId: string;
  flowVersion: string;
  msisdn: string;
  serviceCode?: string;
  ended: boolean;
  transport: unknown;
  /** The presenter's own state (USSD: the page shown), after the last render. */
  view?: unknown;
  /** The keys of the last hops (shortened), newest last: a repeated one is answered with `reply`. */
  hopKeys: string[];
  /** The last reply (the rendered body), what a repeated hop or a hop after the end gets. */
  reply?: TurnReply;
  /** What the session learned for later hops (`HopScope.facts`: never a secret). */
  facts?: Record<string, string>;
  /**
   * The snapshot's JSON as read from the store: written back as it is when the hop left the snapshot
   * unchanged (the same object), instead of serialising it again.
   */
  snapshotText?: string;
}

/** Hops remembered as seen (a late duplicate of any of them runs nothing). */
export const RECENT_HOPS = 3;

/**
 * A hop key as kept: hop keys are keyed hashes (hex or base64url); 24 characters (96 bits or more) tell
 * hops of one session apart with no practical chance of a mix-up.
 */
export const shortHopKey = (key: string): string => key.slice(0, 24);

/** The stored form (v2). */
interface StoredV2 {
  v: 2;
  /** flow id, flow version */
  fi: string;
  fv: string;
  /** snapshot and history, absent once the session ended; `sl`: the snapshot's JSON length (it is last) */
  s?: unknown;
  sl?: number;
  h?: StateValue[];
  /** msisdn, service code */
  m: string;
  sc?: string;
  /** 1 once ended */
  e?: 1;
  /** transport, view */
  t?: unknown;
  w?: unknown;
  /** hop keys (short), last reply: end flag and text */
  k: string[];
  re?: 1;
  x?: string;
  f?: Record<string, string>;
}

/** The form written before (v1): full field names, the last three replies. */
interface StoredV1
  extends ConversationState, Pick<SessionRecord, 'flowId' | 'flowVersion' | 'msisdn' | 'serviceCode' | 'ended' | 'transport' | 'view'> {
  v: 1;
  hops: { key: string; reply: TurnReply }[];
  f?: Record<string, string>;
}

/**
 * The stored form. The snapshot, the largest part, is written last with its length (`sl`), so that the next
 * hop can find its JSON in the text it read and write it back unchanged without serialising it (`reuse`: the
 * record read this hop, when the snapshot is the very object read from it).
 */
export function encodeRecord(record: SessionRecord, reuse?: SessionRecord): string {
  // Members assigned one by one, in the stored order (object spreads of conditional literals cost several µs).
  const stored = { v: 2, fi: record.flowId, fv: record.flowVersion } as StoredV2;
  if (!record.ended) stored.h = record.history;
  stored.m = record.msisdn;
  if (record.serviceCode !== undefined) stored.sc = record.serviceCode;
  if (record.ended) stored.e = 1;
  if (record.transport !== undefined) stored.t = record.transport;
  if (record.view !== undefined && !record.ended) stored.w = record.view;
  stored.k = record.hopKeys.length > RECENT_HOPS ? record.hopKeys.slice(-RECENT_HOPS) : record.hopKeys;
  if (record.reply) {
    stored.x = record.reply.text;
    if (record.reply.end) stored.re = 1;
  }
  if (record.facts && Object.keys(record.facts).length > 0) stored.f = record.facts;
  const head = JSON.stringify(stored);
  if (record.ended) return head;
  const unchanged = reuse?.snapshotText !== undefined && reuse.snapshot === record.snapshot;
  const snapshot = unchanged ? reuse.snapshotText! : JSON.stringify(record.snapshot ?? null);
  return `${head.slice(0, -1)},"sl":${snapshot.length},"s":${snapshot}}`;
}

/** The record in `raw`; throws when it is neither form. */
export function decodeRecord(raw: string): SessionRecord {
  const stored = JSON.parse(raw) as StoredV2 | StoredV1;
  if (stored.v === 2 && Array.isArray(stored.k) && typeof stored.m === 'string') {
    const record: SessionRecord = {
      flowId: stored.fi,
      flowVersion: stored.fv,
      snapshot: stored.s ?? null,
      history: stored.h ?? [],
      msisdn: stored.m,
      ended: stored.e === 1,
      transport: stored.t,
      hopKeys: stored.k,
    };
    // The snapshot's own text: the `sl` characters before the closing brace (checked by its opening).
    const sl = stored.sl;
    if (typeof sl === 'number' && sl > 0 && stored.s !== undefined && raw.startsWith('"s":', raw.length - 5 - sl))
      record.snapshotText = raw.slice(raw.length - 1 - sl, raw.length - 1);
    // Members assigned one by one (object spreads of conditional literals cost several µs).
    if (stored.sc !== undefined) record.serviceCode = stored.sc;
    if (stored.w !== undefined) record.view = stored.w;
    if (typeof stored.x === 'string') record.reply = { end: stored.re === 1, text: stored.x };
    if (stored.f) record.facts = stored.f;
    return record;
  }
  if (stored.v === 1 && Array.isArray(stored.hops)) {
    const last = stored.hops[stored.hops.length - 1];
    return {
      flowId: stored.flowId,
      flowVersion: stored.flowVersion,
      snapshot: stored.snapshot,
      history: stored.history,
      msisdn: stored.msisdn,
      ...(stored.serviceCode === undefined ? {} : { serviceCode: stored.serviceCode }),
      ended: stored.ended,
      transport: stored.transport,
      ...(stored.view === undefined ? {} : { view: stored.view }),
      hopKeys: stored.hops.map((h) => shortHopKey(h.key)),
      ...(last ? { reply: last.reply } : {}),
      ...(stored.f ? { facts: stored.f } : {}),
    };
  }
  throw new Error('unknown record version');
}
