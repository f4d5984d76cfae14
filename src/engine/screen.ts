import type { AnyStateNode, StateValue } from 'xstate';
import type { LoadedFlow } from './flow-loader.js';
import type { FlowContext, Screen, ScreenMeta, ScreenParts, TurnScreen, ViewValue, ViewVars } from './types.js';

/**
 * Builds the channel-neutral screen of a resting machine (keys and raw variables, `turnScreen`), and
 * translates it for a presenter (`translateScreen`). Channels turn the translation into USSD text, speech or
 * an SMS.
 */

/** The translation and formatting functions the screen builder needs. */
export interface ScreenTranslator {
  t(lang: string, key: string, vars?: Record<string, unknown>): string;
  formatAmount(lang: string, amount: number, currency: string, decimals?: number): string;
  formatDate(lang: string, isoDate: string): string;
}

/** Formats view values for a locale: amounts and dates become text, the rest passes through. */
export function formatVars(tr: ScreenTranslator, lang: string, vars: Record<string, ViewValue | ViewVars[]>) {
  const out: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (Array.isArray(value)) continue;
    if (typeof value === 'object' && value !== null) {
      out[name] = 'amount' in value ? tr.formatAmount(lang, value.amount, value.currency, value.decimals) : tr.formatDate(lang, value.date);
    } else out[name] = value;
  }
  return out;
}

/** What the screen of a resting machine is built from: a machine snapshot, or a persisted one not yet restored. */
export interface RestingState {
  value: StateValue;
  context: unknown;
  status: string;
}

type CurrentScreen = { id: string; meta: ScreenMeta } | undefined;

/** The prompt screen of each state value a flow has rested in, computed once per flow and value. */
const screensByValue = new WeakMap<LoadedFlow, Map<string, CurrentScreen>>();

/**
 * The prompt state the machine rests in (the deepest active node with a prompt), if any. Read from the state
 * value and the machine's structure, so a restored session needs no actor (nor a resolved snapshot) for it.
 */
export function currentScreenMeta(flow: LoadedFlow, state: Pick<RestingState, 'value'>): CurrentScreen {
  let cache = screensByValue.get(flow);
  if (!cache) screensByValue.set(flow, (cache = new Map()));
  const key = typeof state.value === 'string' ? state.value : JSON.stringify(state.value);
  if (cache.has(key)) return cache.get(key);
  let best: CurrentScreen;
  let bestDepth = -1;
  const visit = (node: AnyStateNode, value: StateValue, depth: number) => {
    for (const [name, sub] of typeof value === 'string' ? [[value, undefined] as const] : Object.entries(value)) {
      const child = node.states[name];
      if (!child) continue;
      const meta = flow.screens.get(child.id);
      // The deepest prompt wins (a custom id may be shorter than its parent's); between parallel regions, the longer id.
      if (meta?.prompt && (depth > bestDepth || (depth === bestDepth && child.id.length > best!.id.length))) {
        best = { id: child.id, meta };
        bestDepth = depth;
      }
      if (sub !== undefined) visit(child, sub, depth + 1);
    }
  };
  visit(flow.machine.root, state.value, 0);
  cache.set(key, best);
  return best;
}

/** One answer the customer can give on a screen: the key and the event it sends. */
export interface ScreenChoice {
  key: string;
  /** i18n key of the label. */
  label: string;
  /** The raw row of a `choose` list (an account), the label's own variables. */
  labelVars?: ViewVars;
  event: { type: string; [k: string]: unknown };
}

/** The options a screen offers now: static options whose `if` flag holds, then numbered `choose` rows. */
export function screenChoices(meta: ScreenMeta, context: FlowContext): ScreenChoice[] {
  const choices: ScreenChoice[] = [];
  for (const o of meta.options ?? []) {
    if (o.if && context.data[o.if] !== true) continue;
    choices.push({ key: o.key, label: o.label, event: { type: o.event, ...(o.params ?? {}) } });
  }
  if (meta.choose) {
    const rows = context.view[meta.choose.items];
    (Array.isArray(rows) ? rows : []).forEach((row, index) => {
      choices.push({ key: String(index + 1), label: meta.choose!.item, labelVars: row, event: { type: meta.choose!.event, index } });
    });
  }
  return choices;
}

/** The neutral screen of a runner-made end: the one text `key`, then the end. */
export function closingScreen(key: string): TurnScreen {
  return { final: true, vars: {}, prompt: { key }, list: [], options: [] };
}

/**
 * The neutral screen of a resting snapshot: keys and raw variables, nothing translated. `fallbackKey` is
 * shown by final states without a prompt.
 */
export function turnScreen(flow: LoadedFlow, snapshot: RestingState, fallbackKey = 'common.goodbye'): TurnScreen {
  const context = snapshot.context as FlowContext;
  const final = snapshot.status !== 'active';
  const current = currentScreenMeta(flow, snapshot);
  if (!current) return closingScreen(final ? fallbackKey : 'error.generic');
  const { meta, id } = current;
  const vars: Record<string, ViewValue> = {};
  for (const [name, value] of Object.entries(context.view)) if (!Array.isArray(value)) vars[name] = value;
  const screen: TurnScreen = {
    stateId: id,
    final,
    vars,
    prompt: { key: meta.prompt ?? fallbackKey },
    list: [],
    options: [],
    input: meta.input,
  };
  if (meta.list) {
    const items = context.view[meta.list.items];
    const rows = Array.isArray(items) ? items : [];
    for (const row of rows) screen.list.push({ key: meta.list.item, vars: row });
    if (rows.length === 0 && meta.list.empty) screen.empty = { key: meta.list.empty };
  }
  screen.options = screenChoices(meta, context).map((c) => ({ key: c.key, label: { key: c.label, vars: c.labelVars } }));
  if (screen.input === undefined) delete screen.input;
  return screen;
}

/**
 * Translates a neutral screen in `lang` with `tr` (the texts of the session's flow version): the prompt,
 * list lines and option labels as text, and the same texts as keys with formatted variables (`parts`).
 */
export function translateScreen(screen: TurnScreen, tr: ScreenTranslator, lang: string): Screen {
  const vars = formatVars(tr, lang, screen.vars);
  const parts: ScreenParts = { vars, prompt: { key: screen.prompt.key }, list: [], options: [] };
  let text = tr.t(lang, screen.prompt.key, vars);
  const list: string[] = [];
  for (const row of screen.list) {
    const rowVars = formatVars(tr, lang, row.vars ?? {});
    list.push(tr.t(lang, row.key, { ...vars, ...rowVars }));
    parts.list.push({ key: row.key, vars: rowVars });
  }
  if (screen.empty) {
    text = `${text}\n${tr.t(lang, screen.empty.key, vars)}`;
    parts.empty = { key: screen.empty.key };
  }
  const options = screen.options.map((o) => {
    const labelVars = o.label.vars ? formatVars(tr, lang, o.label.vars) : undefined;
    parts.options.push({ key: o.key, label: { key: o.label.key, vars: labelVars } });
    return { key: o.key, label: tr.t(lang, o.label.key, { ...vars, ...labelVars }) };
  });
  return { stateId: screen.stateId ?? '', final: screen.final, text, list, options, input: screen.input, parts };
}
