import type { AnyMachineSnapshot } from 'xstate';
import type { LoadedFlow } from './flow-loader.js';
import type { FlowContext, Screen, ScreenMeta, ScreenParts, ViewValue, ViewVars } from './types.js';

/**
 * Builds the channel-neutral screen of a resting machine: the translated prompt, list lines and options.
 * Channels turn it into USSD text, speech or an SMS.
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
      out[name] =
        'amount' in value
          ? tr.formatAmount(lang, value.amount, value.currency, value.decimals)
          : tr.formatDate(lang, value.date);
    } else out[name] = value;
  }
  return out;
}

/** The prompt state the machine rests in (the deepest active node with a prompt), if any. */
export function currentScreenMeta(flow: LoadedFlow, snapshot: AnyMachineSnapshot): { id: string; meta: ScreenMeta } | undefined {
  let best: { id: string; meta: ScreenMeta } | undefined;
  for (const id of Object.keys(snapshot.getMeta())) {
    const meta = flow.screens.get(id);
    if (meta?.prompt && (!best || id.length > best.id.length)) best = { id, meta };
  }
  return best;
}

/** One answer the customer can give on a screen: the key and the event it sends. */
export interface ScreenChoice {
  key: string;
  /** i18n key of the label, or the already formatted label vars of a `choose` row. */
  label: string;
  labelVars?: Record<string, string | number>;
  event: { type: string; [k: string]: unknown };
}

/** The options a screen offers now: static options whose `if` flag holds, then numbered `choose` rows. */
export function screenChoices(meta: ScreenMeta, context: FlowContext, tr?: ScreenTranslator): ScreenChoice[] {
  const choices: ScreenChoice[] = [];
  for (const o of meta.options ?? []) {
    if (o.if && context.data[o.if] !== true) continue;
    choices.push({ key: o.key, label: o.label, event: { type: o.event, ...(o.params ?? {}) } });
  }
  if (meta.choose) {
    const rows = context.view[meta.choose.items];
    (Array.isArray(rows) ? rows : []).forEach((row, index) => {
      choices.push({
        key: String(index + 1),
        label: meta.choose!.item,
        labelVars: tr ? formatVars(tr, context.lang, row) : undefined,
        event: { type: meta.choose!.event, index },
      });
    });
  }
  return choices;
}

/** Builds the screen for a resting snapshot; `fallbackKey` is shown by final states without a prompt. */
export function buildScreen(
  flow: LoadedFlow,
  snapshot: AnyMachineSnapshot,
  tr: ScreenTranslator,
  fallbackKey = 'common.goodbye',
): Screen {
  const context = snapshot.context as FlowContext;
  const lang = context.lang;
  const final = snapshot.status !== 'active';
  const current = currentScreenMeta(flow, snapshot);
  if (!current) {
    const key = final ? fallbackKey : 'error.generic';
    return { stateId: '', final: true, text: tr.t(lang, key), list: [], options: [], parts: { vars: {}, prompt: { key }, list: [], options: [] } };
  }
  const { meta, id } = current;
  const vars = formatVars(tr, lang, context.view);
  let text = tr.t(lang, meta.prompt ?? fallbackKey, vars);
  const list: string[] = [];
  const parts: ScreenParts = { vars, prompt: { key: meta.prompt ?? fallbackKey }, list: [], options: [] };
  if (meta.list) {
    const items = context.view[meta.list.items];
    const rows = Array.isArray(items) ? items : [];
    for (const row of rows) {
      const rowVars = formatVars(tr, lang, row);
      list.push(tr.t(lang, meta.list.item, { ...vars, ...rowVars }));
      parts.list.push({ key: meta.list.item, vars: rowVars });
    }
    if (rows.length === 0 && meta.list.empty) {
      text = `${text}\n${tr.t(lang, meta.list.empty, vars)}`;
      parts.empty = { key: meta.list.empty };
    }
  }
  const choices = screenChoices(meta, context, tr);
  parts.options = choices.map((c) => ({ key: c.key, label: { key: c.label, vars: c.labelVars } }));
  return {
    stateId: id,
    final,
    text,
    list,
    options: choices.map((c) => ({ key: c.key, label: tr.t(lang, c.label, { ...vars, ...c.labelVars }) })),
    input: meta.input,
    parts,
  };
}
