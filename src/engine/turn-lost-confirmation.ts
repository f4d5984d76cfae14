import { Conversation } from './conversation.js';
import type { Turn, TurnReply, TurnScreen } from './types.js';
import type { TurnRequest, TurnRunnerDeps } from './turn-types.js';
import { heldByHop, type HopLock } from './turn-lock.js';
import type { HopLog } from './turn-log.js';
import { readRecord } from './turn-record.js';

/**
 * A retry of a hop whose first run still holds the lock (threat T29): when that hop is a money confirmation
 * (the session, as the first run read it, rests on one with an intent), the outcome goes by SMS and the
 * retry answers "being processed" with the intent's ref (or what is known already: an approval raised).
 * Nothing is written: the lock is not this hop's. Undefined when the lock is no longer that hop's or the
 * session is not at a money confirmation.
 */
export async function lostConfirmation(
  deps: TurnRunnerDeps,
  req: TurnRequest,
  hop: HopLock,
  deadlineAt: number,
  log: HopLog,
): Promise<TurnReply | undefined> {
  const { store, flows, translator } = deps;
  const [held, raw] = await Promise.all([store.get(hop.lockKey), store.get(hop.sessionKey)]);
  if (!heldByHop(held, req.hopKey)) return undefined;
  const record = readRecord(raw, log);
  if (!record || record.ended || record.msisdn !== req.msisdn || record.serviceCode !== req.serviceCode) return undefined;
  const flow = flows.version(record.flowId, record.flowVersion);
  if (!flow) return undefined;
  const conversation = Conversation.restore(flow, record, deadlineAt, hop.context);
  try {
    const actor = conversation.confirming;
    if (!actor) return undefined;
    const told = await deps.tellLostConfirmation!(conversation.context, actor);
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
    const text = req.render ? req.render(turn, texts) : deps.profiles[req.channel].presenter.render(turn, texts, undefined).text;
    log.warn('retry of a money confirmation still held by its first run: its outcome goes by SMS');
    hop.outcome = 'deadline';
    return { end: true, text };
  } finally {
    conversation.stop();
  }
}
