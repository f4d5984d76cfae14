import { actionsNamed } from '../engine/flow-check.js';
import type { FlowFile } from '../engine/flow-schema.js';
import { FLOW_MANIFESTS } from '../engine/registry.js';
import { ENGINE_FINAL_KEYS, ENGINE_KEYS, SERVER_TEXTS, type ViewVarSpec } from '../engine/manifest.js';
import type { ScreenMeta } from '../engine/types.js';
import { variablesOf, type Translator } from '../text/i18n.js';
import { nonGsmChars } from '../text/gsm.js';
import type { ScreenLimits } from '../text/paging.js';
import type { LocaleFile } from '../text/locale-files.js';
import { buildFlowGraph, type FlowGraph } from './flow-graph.js';
import type { LintMessage, Locate } from './lint-report.js';
import { checkEngineText } from './screen-budget.js';

/** Every locale key a flow references. */
export function collectKeys(flow: FlowFile, into: Set<string>): void {
  const { states } = buildFlowGraph(flow);
  for (const s of states.values()) {
    const meta = s.node.config.meta as ScreenMeta | undefined;
    if (!meta) continue;
    if (meta.prompt) into.add(meta.prompt);
    for (const o of meta.options ?? []) into.add(o.label);
    if (meta.list) {
      into.add(meta.list.item);
      if (meta.list.empty) into.add(meta.list.empty);
    }
    if (meta.choose) into.add(meta.choose.item);
    for (const k of meta.keywords ?? []) if (k.usage) into.add(k.usage);
  }
}

/**
 * A screen text whose `{{variable}}` no action of this flow sets would show it empty: each text a screen
 * names may use the view variables the flow's actions set (list and choice rows also their row's), and the
 * engine's own.
 */
export function lintFlowVariables(
  flow: FlowFile,
  graph: FlowGraph,
  tr: Translator,
  declared: Readonly<Record<string, ViewVarSpec>>,
  at: Locate,
  add: (m: LintMessage) => void,
): void {
  const used = [...actionsNamed(flow)].map((n) => FLOW_MANIFESTS.actions[n]).filter((m) => !!m);
  const views = new Set([...used.flatMap((m) => Object.keys(m.views ?? {})), ...Object.keys(SERVER_TEXTS.engine.views)]);
  const rowsOf = (list: string) => new Set(used.flatMap((m) => Object.keys(m.lists?.[list]?.row ?? {})));
  const setters = (v: string) =>
    Object.entries(FLOW_MANIFESTS.actions)
      .filter(([, m]) => v in (m.views ?? {}))
      .map(([n]) => n);
  for (const state of graph.states.values()) {
    const meta = state.node.config.meta as ScreenMeta | undefined;
    if (!meta) continue;
    const p = [...state.node.filePath, 'meta'];
    const texts: [(string | number)[], string, Set<string>][] = [];
    if (meta.prompt) texts.push([[...p, 'prompt'], meta.prompt, views]);
    meta.options?.forEach((o, i) => texts.push([[...p, 'options', i, 'label'], o.label, views]));
    if (meta.list) {
      texts.push([[...p, 'list', 'item'], meta.list.item, new Set([...views, ...rowsOf(meta.list.items)])]);
      if (meta.list.empty) texts.push([[...p, 'list', 'empty'], meta.list.empty, views]);
    }
    if (meta.choose) texts.push([[...p, 'choose', 'item'], meta.choose.item, new Set([...views, ...rowsOf(meta.choose.items)])]);
    meta.keywords?.forEach((k, i) => k.usage && texts.push([[...p, 'keywords', i, 'usage'], k.usage, views]));
    for (const [path, key, allowed] of texts) {
      const unset = new Map<string, string[]>();
      for (const lang of tr.languages) {
        for (const v of variablesOf(tr.template(lang, key) ?? '')) {
          if (allowed.has(v) || !declared[v]) continue; // an undeclared one is reported as unknown-variable
          unset.set(v, [...(unset.get(v) ?? []), lang]);
        }
      }
      for (const [v, langs] of unset) {
        const by = setters(v);
        const why =
          by.length > 0
            ? `only ${by.join(', ')} sets it, and this flow never runs ${by.length === 1 ? 'it' : 'them'}`
            : 'no action of a flow sets it';
        add({
          severity: 'error',
          rule: 'unset-variable',
          ...at(path),
          message: `'${key}' uses {{${v}}} (${langs.join(', ')}), which this screen never has: ${why}`,
        });
      }
    }
  }
}

/** Engine keys, variables, characters and missing keys of every locale. */
export function lintLocales(
  tr: Translator,
  byLang: Map<string, LocaleFile>,
  referenced: Set<string>,
  limits: ScreenLimits,
  vars: Readonly<Record<string, ViewVarSpec>>,
  fallback: string,
  add: (m: LintMessage) => void,
): void {
  const fallbackKeys = new Set(tr.keys(fallback));
  for (const lang of tr.languages) {
    const locale = byLang.get(lang);
    const file = locale?.file ?? lang;
    const at = (key: string) => ({ file, line: locale?.lineOf(key), where: key });
    for (const key of ENGINE_KEYS) {
      if (!tr.has(lang, key)) {
        add({
          severity: 'error',
          rule: 'locale-missing',
          ...at(key),
          message: `'${key}' is missing in locale '${lang}' (the engine shows it on every flow)`,
        });
      } else if (ENGINE_FINAL_KEYS.includes(key) && !referenced.has(key)) {
        const problem = checkEngineText(tr, lang, key, limits);
        if (problem) add({ severity: 'error', rule: 'screen-budget', ...at(key), message: `ussd screen in '${lang}' ${problem}` });
      }
    }
    for (const key of tr.keys(lang)) {
      const template = tr.template(lang, key) ?? '';
      for (const v of variablesOf(template)) {
        if (!vars[v]) {
          add({
            severity: 'error',
            rule: 'unknown-variable',
            ...at(key),
            message: `variable '{{${v}}}' is not declared: its longest value is unknown (declare it in the manifest of the action that sets it, src/engine/registry*.ts, or in SERVER_TEXTS, src/engine/manifest.ts; known: ${Object.keys(vars).sort().join(', ')})`,
          });
        }
      }
      const seen = new Set<string>();
      for (const c of nonGsmChars(template)) {
        if (seen.has(c.char)) continue;
        seen.add(c.char);
        const code = [...c.char].map((ch) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
        const fix =
          c.suggestion === null
            ? 'it has no GSM-7 look-alike and phones would show "?"'
            : c.suggestion === ''
              ? 'it is invisible: delete it'
              : `write "${c.suggestion}" instead (USSD shows "${c.suggestion}" anyway; an SMS with it is sent as UCS-2 and costs twice as much)`;
        add({ severity: 'error', rule: 'non-gsm', ...at(key), message: `"${c.char}" (${code}) is not in the GSM-7 alphabet: ${fix}` });
      }
    }
    if (lang === fallback) continue;
    for (const key of fallbackKeys) {
      if (tr.has(lang, key) || referenced.has(key) || ENGINE_KEYS.includes(key)) continue;
      const fb = byLang.get(fallback);
      add({
        severity: 'warning',
        rule: 'locale-missing',
        file: fb?.file ?? fallback,
        line: fb?.lineOf(key),
        where: key,
        message: `'${key}' has no translation in locale '${lang}' (no flow uses it yet)`,
      });
    }
  }
}
