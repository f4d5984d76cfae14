import type { Metric } from 'prom-client';
import type { HopContext } from '../session/hop-context.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeout } from '../session/errors.js';
import { Conversation, HopDeadlineExceeded } from './conversation.js';
import { closingScreen } from './screen.js';
import type { Turn, TurnReply } from './types.js';
import { shortHopKey, type SessionRecord } from './session-record.js';
import { deferToRecordWrite, flushWrites, newHopScope, takeEarlyRead } from '../session/hop-context.js';
import type { TurnRequest, TurnRunnerDeps, TurnTexts } from './turn-types.js';
import { heldByHop, lockToken, type HopLock } from './turn-lock.js';
import { LOST_HOP_MARGIN_MS, settledByDeadline } from './turn-deadline.js';
import { HopLog } from './turn-log.js';
import { readRecord, saveRecord } from './turn-record.js';
import { lostConfirmation } from './turn-lost-confirmation.js';
import { hopMetrics, type HopMetrics } from './turn-metrics.js';

/**
 * Runs one hop of a conversation: lock the session, restore the machine, apply the inputs, wait until it
 * rests within the hop deadline, persist, and answer. The answer is one neutral turn (the screen as keys and
 * variables, the language, end or continue, the notice), rendered once by the channel's presenter with the
 * texts of the session's flow version. A repeated hop (an aggregator retry) gets the recorded
 * reply without running anything again. Whatever fails, the caller gets a polite reply, never an exception.
 */

export class TurnRunner {
  /** Prometheus metrics of hops, registered by the app on /metrics. The flow id is a label, never a number or session. */
  readonly metrics: Metric[];
  private readonly hops: HopMetrics['hops'];
  private readonly hopSeconds: HopMetrics['hopSeconds'];

  constructor(private readonly deps: TurnRunnerDeps) {
    const { hops, hopSeconds } = hopMetrics();
    this.hops = hops;
    this.hopSeconds = hopSeconds;
    this.metrics = [hops, hopSeconds];
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
    // Set once the lock was found held: true while it is held by this very hop (a retry of it), until
    // `lostConfirmation` finds nothing to tell.
    let retry: boolean | undefined;
    try {
      // Concurrent hops of one session are serialised: the lock is taken and the record read in one round
      // trip, and the record written and the lock released in another. An opening hop's first reads (the
      // language, the cached customer lookup) and the abuse limits' answer travel with the lock.
      let raw: string | null = null;
      if (req.opening) store.readAhead?.(context, [keys.language(req.msisdn), ...(this.deps.readAhead?.(req) ?? [])]);
      let admission = req.admitted;
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
          const told = await lostConfirmation(this.deps, req, hop, deadlineAt, log);
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
      // A retry of a hop still running (a money confirmation, maybe) cannot know what that run does: "try
      // again" could invite a second payment (threat T29). It says the request was not finished, and to wait
      // for a payment's SMS.
      const key = retry ? 'error.unconfirmed' : 'error.unavailable';
      return this.closing(req, this.deps.translator, this.deps.defaultLanguage, key).reply;
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
    const record = readRecord(raw, log);
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
      await saveRecord(this.deps.store, hop, profile, record, req, transport, reply, undefined, record?.view);
      log.info({ end: true, reason: endWith }, 'session ended by the channel');
      hop.outcome = 'ended';
      return reply;
    }
    // The kill switch of the session's flow: a polite end in the customer's language, and the session is over.
    const flowId = record?.flowId ?? req.flowId;
    if (this.deps.switches?.isOff(`flow:${flowId}`)) {
      const lang = record ? this.langOf(record) : await this.language(req.msisdn, context);
      const { reply } = this.closing(req, translator, lang, 'maintenance.all', transport);
      await saveRecord(this.deps.store, hop, profile, record, req, transport, reply, undefined, record?.view);
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
      const saving = saveRecord(this.deps.store, hop, profile, record, req, transport, reply, undefined, record?.view).catch(
        (e: unknown) => {
          saveError = e ?? new Error('session not saved');
        },
      );
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
      const saving = saveRecord(
        this.deps.store,
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

  /** A runner-made end (a polite end, the deadline, the channel's `endWith`): the one text `key`, rendered. */
  private closing(req: TurnRequest, texts: TurnTexts, lang: string, key: string, transport?: unknown): { turn: Turn; reply: TurnReply } {
    const turn: Turn = { end: true, lang, screen: closingScreen(key), closing: key, transport };
    const text = req.render ? req.render(turn, texts) : this.deps.profiles[req.channel].presenter.render(turn, texts, undefined).text;
    return { turn, reply: { end: true, text } };
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
}

/** The neutral turn of a conversation at rest. */
function turnOf(conversation: Conversation, transport: unknown): Turn {
  const screen = conversation.screen();
  const turn: Turn = { end: screen.final, lang: conversation.context.lang, screen, transport };
  if (conversation.notice) turn.notice = conversation.notice;
  return turn;
}
