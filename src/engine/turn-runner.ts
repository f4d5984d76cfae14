import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import { randomBytes } from 'node:crypto';
import { Counter, Histogram, type Metric } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeout } from '../session/errors.js';
import type { Keys } from '../session/keys.js';
import { maskMsisdn } from '../logger.js';
import { settlesWithin } from '../time.js';
import { Conversation, HopDeadlineExceeded, type ConversationState, type NavigationKeys } from './conversation.js';
import type { LoadedFlow } from './flow-loader.js';
import { closingScreen, type ScreenTranslator } from './screen.js';
import type { Translator } from '../text/i18n.js';
import type { Channel, FlowContext, LostConfirmationAnswer, Turn, TurnReply, TurnScreen } from './types.js';
import type { Switches } from '../control/switches.js';
import { decodeRecord, encodeRecord, shortHopKey, type SessionRecord } from './session-record.js';
import { deferToRecordWrite, flushWrites, newHopScope, takeEarlyRead, type HopContext, type HopScope } from '../session/hop-context.js';

/**
 * Runs one hop of a conversation: lock the session, restore the machine, apply the inputs, wait until it
 * rests within the hop deadline, persist, and answer. The answer is one neutral turn (the screen as keys and
 * variables, the language, end or continue, the notice), rendered once by the channel's presenter with the
 * texts of the session's flow version. A repeated hop (an aggregator retry) gets the recorded
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
  /**
   * Renders the turn instead of the channel's presenter (voice: TwiML or AT voice XML, which name the
   * provider's callback URL). Called once per hop; its body is what a repeated hop gets again.
   */
  render?: (turn: Turn, texts: TurnTexts) => string;
  /**
   * The hop most likely opens a session (USSD: the dial's empty text): what a new session reads first (the
   * caller's language, `TurnRunnerDeps.readAhead`) is asked for together with the session lock.
   */
  opening?: boolean;
  /**
   * The abuse limits' answer (threats T22, T28), asked for by the channel wrapper in the same round trip as
   * the session lock: when it refuses, the lock is released, nothing runs or renders, and the reply is empty
   * (the caller answers politely).
   */
  admitted?: Promise<{ readonly ok: boolean }>;
}

/** The texts a presenter renders with: the session's flow version's, or the server's for a polite end. */
export type TurnTexts = ScreenTranslator & Pick<Translator, 'languages' | 'fallback' | 'template'>;

/** How one channel presents a neutral turn. */
export interface Presenter {
  /**
   * Presentation-only navigation (USSD "98 More" and "0 Back" between pages of one screen): the presenter's
   * state after `input`, or undefined when the input is not its own (the engine then gets it). `current`
   * gives the screen as it stands, for a presenter that needs to measure it.
   */
  navigate?(input: string, view: unknown, current: () => { turn: Turn; texts: TurnTexts }): unknown;
  /** Renders the turn once, with `texts`; `view` is the presenter's state (after `navigate`). */
  render(turn: Turn, texts: TurnTexts, view: unknown): { text: string; view?: unknown };
}

/** A channel: how long its sessions live, the engine's navigation keys on it, and its presenter. */
export interface ChannelProfile {
  ttlMs: number;
  keys: NavigationKeys;
  presenter: Presenter;
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
  translator: TurnTexts;
  profiles: Record<Channel, ChannelProfile>;
  logger: Logger;
  defaultLanguage: string;
  /** The kill switches: a hop of a switched-off flow (`flow:<id>`) gets the maintenance end. */
  switches?: Pick<Switches, 'isOff'>;
  /**
   * Store keys an opening hop will read (the cached customer lookup), fetched in the round trip of the
   * session lock (`KeyValueStore.readAhead`). Plain reads of cached values only: nothing a refused hop
   * should not cost.
   */
  readAhead?: (req: TurnRequest) => string[];
  /**
   * A retry of a money confirmation whose first run still holds the session lock near the deadline (its
   * process died, or it is slow; threat T29): makes sure the outcome of the intent in `context` reaches the
   * customer (by SMS, or on the screen it resolves) and resolves that screen, or undefined when `context`
   * holds no intent it can tell (the retry then gets the polite end of a lock it could not take). `actor` is
   * the actor the screen confirms (`confirmStates`): a transfer, a cash-in, an approval, a cash-out request.
   */
  tellLostConfirmation?: (context: FlowContext, actor: string) => Promise<LostConfirmationAnswer | undefined>;
}

/**
 * How a hop ended, the `outcome` label of `kiunga_hops_total`: the flow asked for more (`continued`) or
 * ended the session (`ended`), an aggregator retry got the recorded reply (`replayed`), the hop belonged to
 * another number or service code (`refused`), the flow is switched off and the customer got the maintenance
 * end (`paused`), the deadline cut it short (`deadline`), or something failed and the customer got the
 * polite end (`failed`). A hop of a switched-off channel never reaches the runner (the channel wrapper
 * answers it), so it is not counted here.
 */
export type HopOutcome = 'continued' | 'ended' | 'replayed' | 'refused' | 'paused' | 'deadline' | 'failed';

/** The session lock held for one hop. */
interface HopLock {
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

/**
 * How long before its deadline a retry of the lock holder's own hop stops waiting for the lock: the time to
 * read the session and hand the outcome to the SMS (a few store round trips).
 */
const LOST_HOP_MARGIN_MS = 400;
/**
 * Once a hop's deadline has passed, the longest it waits for its writes (the record, the lock's release, the
 * deferred writes) before answering: part of the margin `hopDeadline` keeps before the aggregator's own
 * deadline. A store that stops answering (Redis out of reach) would otherwise hold the answer for each
 * write's command timeout in turn (finding F4 in docs/resilience.md); the writes go on, unawaited.
 */
const PAST_DEADLINE_WRITES_MS = 300;

/** Waits for `work` until `PAST_DEADLINE_WRITES_MS` after `deadlineAt` at most; true when it settled. */
function settledByDeadline(work: Promise<unknown>, deadlineAt: number): Promise<boolean> {
  return settlesWithin(work, Math.max(0, deadlineAt + PAST_DEADLINE_WRITES_MS - Date.now()));
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
  /** Prometheus metrics of hops, registered by the app on /metrics. The flow id is a label, never a number or session. */
  readonly metrics: Metric[];
  private readonly hops: Counter<'channel' | 'flow' | 'outcome'>;
  private readonly hopSeconds: Histogram<'channel'>;

  constructor(private readonly deps: TurnRunnerDeps) {
    this.hops = new Counter({
      name: 'kiunga_hops_total',
      help: 'Hops answered, by channel, flow and outcome (continued, ended, replayed, refused, paused, deadline, failed).',
      labelNames: ['channel', 'flow', 'outcome'],
      registers: [],
    });
    // Around the aggregators' deadlines (USSD answers within a few seconds), so the buckets are dense below 5 s.
    this.hopSeconds = new Histogram({
      name: 'kiunga_hop_duration_seconds',
      help: 'Time from taking a hop to answering it (lock, flow, Fineract calls, save), by channel.',
      labelNames: ['channel'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8],
      registers: [],
    });
    this.metrics = [this.hops, this.hopSeconds];
  }

  /** Runs a hop; always resolves with a reply, before `deadlineAt` whenever the store answers. */
  run(req: TurnRequest, deadlineAt: number): Promise<TurnReply> {
    // The hop's context, passed explicitly to everything that serves the hop (session/hop-context.ts): the caller
    // (the request's own number and channel), the deadline (every Fineract call of the hop knows it: the gateway
    // drops what cannot be served in time), and the scope: reads its services share, writes sent with the record's.
    const scope = newHopScope();
    const context = { caller: { msisdn: req.msisdn, channel: req.channel }, deadline: deadlineAt, scope };
    return this.runHop(req, deadlineAt, context);
  }

  private async runHop(req: TurnRequest, deadlineAt: number, context: HopLock['context']): Promise<TurnReply> {
    const log = new HopLog(this.deps.logger, req);
    const { store, keys } = this.deps;
    const { scope } = context;
    const hop: HopLock = {
      lockKey: keys.lock(req.channel, req.sessionId),
      sessionKey: keys.session(req.channel, req.sessionId),
      token: lockToken(req.hopKey),
      released: false,
      outcome: 'failed',
      context,
    };
    const timer = this.hopSeconds.startTimer({ channel: req.channel });
    try {
      // Concurrent hops of one session are serialised: the lock is taken and the record read in one round
      // trip, and the record written and the lock released in another. An opening hop's first reads (the
      // language, the cached customer lookup) and the abuse limits' answer travel with the lock.
      let raw: string | null = null;
      if (req.opening) store.readAhead?.(context, [keys.language(req.msisdn), ...(this.deps.readAhead?.(req) ?? [])]);
      let admission = req.admitted;
      // Set once the lock was found held: true while it is held by this very hop (a retry of it).
      let retry: boolean | undefined;
      for (;;) {
        const taken = await store.lockAndGet(hop.lockKey, hop.token, Math.max(1000, deadlineAt - Date.now() + 2000), hop.sessionKey);
        if (admission) {
          const { ok: admitted } = await admission;
          admission = undefined;
          if (!admitted) {
            if (taken.locked) await store.deleteIfEquals(hop.lockKey, hop.token).catch(() => undefined);
            hop.notAdmitted = true;
            return { end: true, text: '' };
          }
        }
        if (taken.locked) {
          raw = taken.value;
          break;
        }
        if (retry === undefined) retry = !!this.deps.tellLostConfirmation && heldByHop(await store.get(hop.lockKey), req.hopKey);
        if (retry && Date.now() >= deadlineAt - LOST_HOP_MARGIN_MS) {
          const told = await this.lostConfirmation(req, hop, deadlineAt, log);
          if (told) return told;
          retry = false;
        }
        if (Date.now() >= deadlineAt - 50) throw new LockTimeout(hop.lockKey, 0);
        await sleep(10 + Math.random() * 15);
      }
      try {
        return await this.locked(req, raw, hop, deadlineAt, log);
      } finally {
        if (!hop.released) {
          const release = store.deleteIfEquals(hop.lockKey, hop.token).catch(() => undefined);
          await settledByDeadline(scope.writes.length > 0 ? Promise.all([release, flushWrites(scope)]) : release, deadlineAt);
        }
      }
    } catch (error) {
      log.warn({ err: { type: (error as Error)?.name, message: (error as Error)?.message } }, 'hop failed');
      hop.outcome = 'failed';
      return this.closing(req, this.deps.translator, this.deps.defaultLanguage, 'error.unavailable').reply;
    } finally {
      // Writes of a hop that ended before its record was written (a refusal, a failure) still happen.
      if (scope.writes.length > 0) await settledByDeadline(flushWrites(scope), deadlineAt);
      timer();
      if (!hop.notAdmitted) this.hops.inc({ channel: req.channel, flow: req.flowId, outcome: hop.outcome });
    }
  }

  private async locked(req: TurnRequest, raw: string | null, hop: HopLock, deadlineAt: number, log: HopLog): Promise<TurnReply> {
    const { store, keys, translator } = this.deps;
    const profile = this.deps.profiles[req.channel];
    const { presenter } = profile;
    const record = this.parse(raw, log);
    const { context } = hop;
    if (record?.facts) for (const [name, value] of Object.entries(record.facts)) context.scope.facts.set(name, value);

    if (record && (record.msisdn !== req.msisdn || record.serviceCode !== req.serviceCode)) {
      log.warn('hop refused: session belongs to another number or service code');
      hop.outcome = 'refused';
      return this.closing(req, translator, this.deps.defaultLanguage, 'error.generic').reply;
    }
    // A hop seen before runs nothing again: it gets the last answer (the one a retry of the last hop needs).
    if (record?.reply && record.hopKeys.includes(shortHopKey(req.hopKey))) {
      log.info('duplicate hop answered from the session record');
      hop.outcome = 'replayed';
      return record.reply;
    }
    if (record?.ended) {
      // A hop after the end gets the last answer again, as a retry would.
      hop.outcome = 'replayed';
      return record.reply ?? this.closing(req, translator, this.deps.defaultLanguage, 'common.goodbye').reply;
    }

    const { inputs, transport, endWith } = req.inputs(record?.transport);
    if (endWith) {
      const lang = record ? this.langOf(record) : this.deps.defaultLanguage;
      const texts = (record && this.deps.flows.version(record.flowId, record.flowVersion)?.translator) || translator;
      const { reply } = this.closing(req, texts, lang, endWith, transport);
      await this.save(hop, profile, record, req, transport, reply, undefined, record?.view);
      log.info({ end: true, reason: endWith }, 'session ended by the channel');
      hop.outcome = 'ended';
      return reply;
    }
    // The kill switch of the session's flow: a polite end in the customer's language, and the session is over.
    const flowId = record?.flowId ?? req.flowId;
    if (this.deps.switches?.isOff(`flow:${flowId}`)) {
      const lang = record ? this.langOf(record) : await this.language(req.msisdn, context);
      const { reply } = this.closing(req, translator, lang, 'maintenance.all', transport);
      await this.save(hop, profile, record, req, transport, reply, undefined, record?.view);
      log.info({ flow: flowId }, 'flow switched off: maintenance answer');
      hop.outcome = 'paused';
      return reply;
    }
    const restored = record ? this.deps.flows.version(record.flowId, record.flowVersion) : undefined;
    let conversation: Conversation;
    let startLang: string;
    let pending = inputs;
    // The presenter's state (the USSD page), kept while the customer stays on one screen.
    let view: unknown = record?.view;
    try {
      if (record && restored) {
        conversation = Conversation.restore(restored, record, deadlineAt, context);
        startLang = conversation.context.lang;
      } else {
        const flow = this.deps.flows.current(req.flowId);
        if (!flow) throw new Error(`unknown flow ${req.flowId}`);
        if (record) {
          log.info('session restarted: its flow version is gone');
          pending = [];
        }
        view = undefined;
        startLang = await this.language(req.msisdn, context);
        conversation = await Conversation.start(
          flow,
          { channel: req.channel, session: req.sessionId, msisdn: req.msisdn, lang: startLang },
          deadlineAt,
          context,
        );
      }
      const c = conversation;
      // A session renders with the texts of the flow version it began on (hot reload).
      const current = () => ({ turn: turnOf(c, transport), texts: c.flow.translator ?? translator });
      for (const [i, input] of pending.entries()) {
        if (c.ended) break;
        // A money confirmation needs a hop of its own, after the customer has seen the amount and recipient
        // (threat T25): whatever else this hop carried (a replayed dial string with the PIN) is dropped.
        if (i > 0 && c.atConfirm) {
          log.info({ dropped: pending.length - i }, 'inputs after a money confirmation screen dropped: it needs a hop of its own');
          break;
        }
        const navigated = presenter.navigate?.(input, view, current);
        if (navigated !== undefined) {
          view = navigated;
          c.notice = undefined;
          continue;
        }
        // A new screen starts on its first page.
        if (await c.apply(input, profile.keys)) view = undefined;
      }
    } catch (error) {
      if (!(error instanceof HopDeadlineExceeded)) throw error;
      // After a money confirmation the outcome is not known yet (threat T29): never "try again", which
      // invites a second payment; the transfer's own SMS tells the result.
      const key = error.moneyInFlight ? 'transfer.pending' : 'error.unavailable';
      log.warn({ moneyInFlight: error.moneyInFlight }, 'hop deadline exceeded: answering politely and ending the session');
      const lang = record ? this.langOf(record) : this.deps.defaultLanguage;
      const { reply } = this.closing(req, translator, lang, key, transport);
      let saveError: unknown;
      const saving = this.save(hop, profile, record, req, transport, reply, undefined, record?.view).catch((e: unknown) => {
        saveError = e ?? new Error('session not saved');
      });
      // The answer does not wait past the deadline for a store that does not answer: the session ends here.
      if (!(await settledByDeadline(saving, deadlineAt))) log.warn('session not saved by the deadline: answered without it');
      else if (saveError !== undefined && !error.moneyInFlight) throw saveError;
      hop.outcome = 'deadline';
      return reply;
    }

    const turn = turnOf(conversation, transport);
    const texts = conversation.flow.translator ?? translator;
    // Rendered once per hop; the body is what a repeated hop gets again.
    const rendered = req.render ? { text: req.render(turn, texts), view } : presenter.render(turn, texts, view);
    const reply: TurnReply = { end: turn.end, text: rendered.text };
    const state = conversation.persist();
    conversation.stop();
    // The caller's language for their next sessions, written with the record.
    if (turn.lang !== startLang && translator.languages.includes(turn.lang)) {
      const lang = turn.lang;
      deferToRecordWrite(context, () =>
        store
          .set(keys.language(req.msisdn), lang)
          .catch((err: unknown) => log.warn({ err: { message: (err as Error)?.message } }, 'language not kept')),
      );
    }
    try {
      let saveError: unknown;
      const saving = this.save(
        hop,
        profile,
        record,
        req,
        transport,
        reply,
        { ...state, flowId: conversation.flow.id, flowVersion: conversation.flow.version },
        rendered.view,
      ).catch((e: unknown) => {
        saveError = e ?? new Error('session not saved');
      });
      if (!(await settledByDeadline(saving, deadlineAt))) throw new Error('session not saved by the deadline');
      if (saveError !== undefined) throw saveError;
    } catch (error) {
      // A money hop's final screen states what the transfer service knows (done, refused, or being processed
      // with an SMS to follow): it stays the answer even when the session cannot be saved (threat T29).
      if (!(conversation.moneyHop && reply.end)) throw error;
      log.warn(
        { err: { type: (error as Error)?.name, message: (error as Error)?.message } },
        'session not saved after a money hop; answering its outcome',
      );
      hop.outcome = 'ended';
      return reply;
    }
    hop.outcome = reply.end ? 'ended' : 'continued';
    log.info({ state: turn.screen.stateId ?? '', end: reply.end }, 'hop answered');
    return reply;
  }

  /**
   * A retry of a hop whose first run still holds the lock (threat T29): when that hop is a money confirmation
   * (the session, as the first run read it, rests on one with an intent), the outcome goes by SMS and the
   * retry answers "being processed" with the intent's ref (or what is known already: an approval raised).
   * Nothing is written: the lock is not this hop's. Undefined when the lock is no longer that hop's or the
   * session is not at a money confirmation.
   */
  private async lostConfirmation(req: TurnRequest, hop: HopLock, deadlineAt: number, log: HopLog): Promise<TurnReply | undefined> {
    const { store, flows, translator } = this.deps;
    const [held, raw] = await Promise.all([store.get(hop.lockKey), store.get(hop.sessionKey)]);
    if (!heldByHop(held, req.hopKey)) return undefined;
    const record = this.parse(raw, log);
    if (!record || record.ended || record.msisdn !== req.msisdn || record.serviceCode !== req.serviceCode) return undefined;
    const flow = flows.version(record.flowId, record.flowVersion);
    if (!flow) return undefined;
    const conversation = Conversation.restore(flow, record, deadlineAt, hop.context);
    try {
      const actor = conversation.confirming;
      if (!actor) return undefined;
      const told = await this.deps.tellLostConfirmation!(conversation.context, actor);
      if (!told) return undefined;
      const vars: TurnScreen['vars'] = {};
      for (const [name, value] of Object.entries(conversation.context.view)) if (!Array.isArray(value)) vars[name] = value;
      Object.assign(vars, told.vars);
      const { key } = told;
      const turn: Turn = {
        end: true,
        lang: conversation.context.lang,
        screen: { final: true, vars, prompt: { key }, list: [], options: [] },
        transport: req.inputs(record.transport).transport,
      };
      const texts = flow.translator ?? translator;
      const text = req.render ? req.render(turn, texts) : this.deps.profiles[req.channel].presenter.render(turn, texts, undefined).text;
      log.warn('retry of a money confirmation still held by its first run: its outcome goes by SMS');
      hop.outcome = 'deadline';
      return { end: true, text };
    } finally {
      conversation.stop();
    }
  }

  /** A runner-made end (a polite end, the deadline, the channel's `endWith`): the one text `key`, rendered. */
  private closing(req: TurnRequest, texts: TurnTexts, lang: string, key: string, transport?: unknown): { turn: Turn; reply: TurnReply } {
    const turn: Turn = { end: true, lang, screen: closingScreen(key), closing: key, transport };
    const text = req.render ? req.render(turn, texts) : this.deps.profiles[req.channel].presenter.render(turn, texts, undefined).text;
    return { turn, reply: { end: true, text } };
  }

  private async save(
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
    const saving = this.deps.store.setAndUnlock(hop.sessionKey, encodeRecord(record, previous), profile.ttlMs, hop.lockKey, hop.token);
    if (scope.writes.length > 0) {
      const [saved] = await Promise.allSettled([saving, flushWrites(scope)]);
      if (saved.status === 'rejected') throw saved.reason;
    } else await saving;
    hop.released = true;
  }

  private langOf(record: SessionRecord): string {
    const ctx = (record.snapshot as { context?: { lang?: string } } | null)?.context;
    return ctx?.lang ?? this.deps.defaultLanguage;
  }

  /** The caller's language: read with the session lock on an opening hop (`readAhead`), else read now. */
  private async language(msisdn: string, context: HopContext): Promise<string> {
    const key = this.deps.keys.language(msisdn);
    const stored = await (takeEarlyRead(context, key) ?? this.deps.store.get(key));
    return stored && this.deps.translator.languages.includes(stored) ? stored : this.deps.defaultLanguage;
  }

  private parse(raw: string | null, log: HopLog): SessionRecord | undefined {
    if (!raw) return undefined;
    try {
      return decodeRecord(raw);
    } catch {
      log.warn('unreadable session record ignored');
      return undefined;
    }
  }
}

/** The neutral turn of a conversation at rest. */
function turnOf(conversation: Conversation, transport: unknown): Turn {
  const screen = conversation.screen();
  const turn: Turn = { end: screen.final, lang: conversation.context.lang, screen, transport };
  if (conversation.notice) turn.notice = conversation.notice;
  return turn;
}

/**
 * The hop's log lines, each with the hop's fields (channel, session, masked number) beside its own. A pino
 * child logger per hop would redact its bindings when made (about 2 µs and 5.5 KB, measured), whether or not
 * the hop writes a line at its level; these fields are plain, and the line's redaction covers them as it
 * covers the rest of the line.
 */
class HopLog {
  #fields: { channel: string; session: string; msisdn: string } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly req: Pick<TurnRequest, 'channel' | 'sessionId' | 'msisdn'>,
  ) {}

  info(fields: object | string, message?: string): void {
    if (this.logger.isLevelEnabled('info')) this.line('info', fields, message);
  }

  warn(fields: object | string, message?: string): void {
    if (this.logger.isLevelEnabled('warn')) this.line('warn', fields, message);
  }

  private line(level: 'info' | 'warn', fields: object | string, message?: string): void {
    this.#fields ??= { channel: this.req.channel, session: this.req.sessionId, msisdn: maskMsisdn(this.req.msisdn) };
    if (typeof fields === 'string') this.logger[level](this.#fields, fields);
    else this.logger[level]({ ...this.#fields, ...fields }, message);
  }
}
