import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeout } from '../session/errors.js';
import type { Keys } from '../session/keys.js';
import { maskMsisdn } from '../logger.js';
import { runWithDeadline } from '../limits/deadline.js';
import { Conversation, HopDeadlineExceeded, type ConversationState, type NavigationKeys } from './conversation.js';
import type { LoadedFlow } from './flow-loader.js';
import type { ScreenTranslator } from './screen.js';
import type { Channel, Screen, TurnReply } from './types.js';

/**
 * Runs one hop of a conversation: lock the session, restore the machine, apply the inputs, wait until it
 * rests within the hop deadline, persist, and answer. A repeated hop (an aggregator retry) gets the recorded
 * reply without running anything again. Whatever fails, the caller gets a polite reply, never an exception.
 */

export interface TurnRequest {
  channel: Channel;
  /** Unique per provider and session, e.g. `at:ATUid_123`. */
  sessionId: string;
  /** E.164 number of the caller; the session is bound to it (threat T8). */
  msisdn: string;
  serviceCode?: string;
  flowId: string;
  /** Identity of this hop for duplicate detection (a keyed hash: it may cover a PIN). */
  hopKey: string;
  /**
   * Derives this hop's inputs from what the adapter remembered last hop (e.g. AT text un-accumulation).
   * `endWith` (an i18n key) ends the session now with that text instead (voice: the caller stayed silent).
   */
  inputs(previous: unknown): { inputs: string[]; transport: unknown; endWith?: string };
}

interface SessionRecord extends ConversationState {
  v: 1;
  flowId: string;
  flowVersion: string;
  msisdn: string;
  serviceCode?: string;
  ended: boolean;
  transport: unknown;
  /** Last replies by hop key, newest last, for aggregator retries. */
  hops: { key: string; reply: TurnReply }[];
}

/** How one channel presents screens. */
export interface ChannelProfile {
  ttlMs: number;
  keys: NavigationKeys;
  /** Renders a screen into pages; a final screen must fit one page. */
  render(screen: Screen, lang: string, notice?: string): string[];
  /**
   * The adapter renders from the screen itself (voice): replies then carry `screen`, `lang`, `notice` and
   * `transport`, and are recorded with them so a repeated hop renders the same.
   */
  structured?: boolean;
}

/** Where flows come from (a hot-reloading registry later). */
export interface FlowSource {
  current(id: string): LoadedFlow | undefined;
  version(id: string, version: string): LoadedFlow | undefined;
}

export interface TurnRunnerDeps {
  store: KeyValueStore;
  keys: Keys;
  flows: FlowSource;
  translator: ScreenTranslator & { languages: readonly string[] };
  profiles: Record<Channel, ChannelProfile>;
  logger: Logger;
  defaultLanguage: string;
}

const RECENT_HOPS = 3;

/** The session lock held for one hop. */
interface HopLock {
  lockKey: string;
  sessionKey: string;
  token: string;
  /** Set once the record was written and the lock released together. */
  released: boolean;
}

/**
 * The internal deadline of a hop that must be answered within `budgetMs` of arrival: the engine stops
 * waiting earlier (25%, at most 1 s), keeping time to persist and answer even when a burst keeps the event
 * loop busy and timers fire late (measured: 300 ms late under 1,000 simultaneous sessions on 2 cores).
 */
export function hopDeadline(budgetMs: number, arrivedAt = Date.now()): number {
  return arrivedAt + budgetMs - Math.min(1000, Math.round(budgetMs * 0.25));
}

export class TurnRunner {
  constructor(private readonly deps: TurnRunnerDeps) {}

  /** Runs a hop; always resolves with a reply, before `deadlineAt` whenever the store answers. */
  async run(req: TurnRequest, deadlineAt: number): Promise<TurnReply> {
    const { logger } = this.deps;
    const log = logger.child({ channel: req.channel, session: req.sessionId, msisdn: maskMsisdn(req.msisdn) });
    const { store, keys } = this.deps;
    const hop: HopLock = {
      lockKey: keys.lock(req.channel, req.sessionId),
      sessionKey: keys.session(req.channel, req.sessionId),
      token: randomBytes(12).toString('base64url'),
      released: false,
    };
    try {
      // Concurrent hops of one session are serialised: the lock is taken and the record read in one round
      // trip, and the record written and the lock released in another.
      let raw: string | null = null;
      for (;;) {
        const taken = await store.lockAndGet(hop.lockKey, hop.token, Math.max(1000, deadlineAt - Date.now() + 2000), hop.sessionKey);
        if (taken.locked) {
          raw = taken.value;
          break;
        }
        if (Date.now() >= deadlineAt - 50) throw new LockTimeout(hop.lockKey, 0);
        await sleep(10 + Math.random() * 15);
      }
      try {
        // Every Fineract call made for this hop knows the hop's deadline (the gateway drops what cannot be served in time).
        return await runWithDeadline(deadlineAt, () => this.locked(req, raw, hop, deadlineAt, log));
      } finally {
        if (!hop.released) await store.deleteIfEquals(hop.lockKey, hop.token).catch(() => undefined);
      }
    } catch (error) {
      log.warn({ err: { type: (error as Error)?.name, message: (error as Error)?.message } }, 'hop failed');
      return { end: true, text: this.deps.translator.t(this.deps.defaultLanguage, 'error.unavailable') };
    }
  }

  private async locked(req: TurnRequest, raw: string | null, hop: HopLock, deadlineAt: number, log: Logger): Promise<TurnReply> {
    const { store, keys, translator } = this.deps;
    const profile = this.deps.profiles[req.channel];
    const record = this.parse(raw, log);

    if (record && (record.msisdn !== req.msisdn || record.serviceCode !== req.serviceCode)) {
      log.warn('hop refused: session belongs to another number or service code');
      return { end: true, text: translator.t(this.deps.defaultLanguage, 'error.generic') };
    }
    const replay = record?.hops.find((h) => h.key === req.hopKey);
    if (replay) {
      log.info('duplicate hop answered from the session record');
      return replay.reply;
    }
    if (record?.ended) return record.hops[record.hops.length - 1]?.reply ?? { end: true, text: translator.t(this.deps.defaultLanguage, 'common.goodbye') };

    const { inputs, transport, endWith } = req.inputs(record?.transport);
    if (endWith) {
      const lang = record ? this.langOf(record) : this.deps.defaultLanguage;
      const texts = (record && this.deps.flows.version(record.flowId, record.flowVersion)?.translator) || translator;
      const reply: TurnReply = { end: true, text: texts.t(lang, endWith) };
      if (profile.structured) Object.assign(reply, { lang, transport, screen: closingScreen(endWith, reply.text) });
      await this.save(hop, profile, record, req, transport, reply, undefined);
      log.info({ end: true, reason: endWith }, 'session ended by the channel');
      return reply;
    }
    const restored = record ? this.deps.flows.version(record.flowId, record.flowVersion) : undefined;
    let conversation: Conversation;
    let startLang: string;
    let pending = inputs;
    try {
      if (record && restored) {
        conversation = Conversation.restore(restored, record, deadlineAt);
        startLang = conversation.context.lang;
      } else {
        const flow = this.deps.flows.current(req.flowId);
        if (!flow) throw new Error(`unknown flow ${req.flowId}`);
        if (record) {
          log.info('session restarted: its flow version is gone');
          pending = [];
        }
        startLang = await this.language(req.msisdn);
        conversation = await Conversation.start(
          flow,
          { channel: req.channel, session: req.sessionId, msisdn: req.msisdn, lang: startLang },
          deadlineAt,
        );
      }
      for (const [i, input] of pending.entries()) {
        if (conversation.ended) break;
        // A money confirmation needs a hop of its own, after the customer has seen the amount and recipient
        // (threat T25): whatever else this hop carried (a replayed dial string with the PIN) is dropped.
        if (i > 0 && conversation.atConfirm) {
          log.info({ dropped: pending.length - i }, 'inputs after a money confirmation screen dropped: it needs a hop of its own');
          break;
        }
        // A session renders with the texts of the flow version it began on (hot reload).
        const pages = profile.render(conversation.screen(conversation.flow.translator ?? translator), conversation.context.lang).length;
        await conversation.apply(input, pages, profile.keys);
      }
    } catch (error) {
      if (!(error instanceof HopDeadlineExceeded)) throw error;
      // After a money confirmation the outcome is not known yet (threat T29): never "try again", which
      // invites a second payment; the transfer's own SMS tells the result.
      const key = error.moneyInFlight ? 'transfer.pending' : 'error.unavailable';
      log.warn({ moneyInFlight: error.moneyInFlight }, 'hop deadline exceeded: answering politely and ending the session');
      const lang = record ? this.langOf(record) : this.deps.defaultLanguage;
      const reply: TurnReply = { end: true, text: translator.t(lang, key) };
      if (profile.structured) Object.assign(reply, { lang, transport, screen: closingScreen(key, reply.text) });
      await this.save(hop, profile, record, req, transport, reply, undefined).catch((saveError: unknown) => {
        if (!error.moneyInFlight) throw saveError;
      });
      return reply;
    }

    const lang = conversation.context.lang;
    const texts = conversation.flow.translator ?? translator;
    const screen = conversation.screen(texts);
    const pages = profile.render(screen, lang, conversation.notice ? texts.t(lang, conversation.notice) : undefined);
    conversation.page = Math.min(conversation.page, pages.length - 1);
    const reply: TurnReply = { end: screen.final, text: pages[conversation.page] ?? '' };
    if (profile.structured) Object.assign(reply, { screen, lang, notice: conversation.notice, transport });
    const state = conversation.persist();
    conversation.stop();
    try {
      await this.save(hop, profile, record, req, transport, reply, { ...state, flowId: conversation.flow.id, flowVersion: conversation.flow.version });
    } catch (error) {
      // A money hop's final screen states what the transfer service knows (done, refused, or being processed
      // with an SMS to follow): it stays the answer even when the session cannot be saved (threat T29).
      if (!(conversation.moneyHop && reply.end)) throw error;
      log.warn({ err: { type: (error as Error)?.name, message: (error as Error)?.message } }, 'session not saved after a money hop; answering its outcome');
      return reply;
    }
    if (lang !== startLang && translator.languages.includes(lang)) {
      await store.set(keys.language(req.msisdn), lang);
    }
    log.info({ state: screen.stateId, end: reply.end, page: conversation.page }, 'hop answered');
    return reply;
  }

  private async save(
    hop: HopLock,
    profile: ChannelProfile,
    previous: SessionRecord | undefined,
    req: TurnRequest,
    transport: unknown,
    reply: TurnReply,
    state: (ConversationState & { flowId: string; flowVersion: string }) | undefined,
  ): Promise<void> {
    const base = state ?? previous;
    const record: SessionRecord = {
      v: 1,
      flowId: base?.flowId ?? req.flowId,
      flowVersion: base?.flowVersion ?? '',
      snapshot: base?.snapshot ?? null,
      history: base?.history ?? [],
      page: base?.page ?? 0,
      msisdn: req.msisdn,
      serviceCode: req.serviceCode,
      ended: reply.end,
      transport,
      hops: [...(previous?.hops ?? []), { key: req.hopKey, reply }].slice(-RECENT_HOPS),
    };
    await this.deps.store.setAndUnlock(hop.sessionKey, JSON.stringify(record), profile.ttlMs, hop.lockKey, hop.token);
    hop.released = true;
  }

  private langOf(record: SessionRecord): string {
    const ctx = (record.snapshot as { context?: { lang?: string } } | null)?.context;
    return ctx?.lang ?? this.deps.defaultLanguage;
  }

  private async language(msisdn: string): Promise<string> {
    const stored = await this.deps.store.get(this.deps.keys.language(msisdn));
    return stored && this.deps.translator.languages.includes(stored) ? stored : this.deps.defaultLanguage;
  }

  private parse(raw: string | null, log: Logger): SessionRecord | undefined {
    if (!raw) return undefined;
    try {
      const record = JSON.parse(raw) as SessionRecord;
      if (record.v !== 1 || !Array.isArray(record.hops)) throw new Error('unknown record version');
      return record;
    } catch {
      log.warn('unreadable session record ignored');
      return undefined;
    }
  }
}

/** The final screen of a session the runner ends itself (a polite end), for structured profiles. */
function closingScreen(key: string, text: string): Screen {
  return { stateId: '', final: true, text, list: [], options: [], parts: { vars: {}, prompt: { key }, list: [], options: [] } };
}
