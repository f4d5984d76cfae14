import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isFlowFileName, parseFlowSource, type FlowIssue } from '../engine/flow-loader.js';
import type { CountryCode } from 'libphonenumber-js';
import type { Config } from '../config.js';
import { createFineractClient } from '../fineract/client.js';
import { startSandbox } from '../sandbox/server.js';
import {
  CATALOGUE_FILE_NAME,
  checkCatalogueAgainstProducts,
  loanProductTerms,
  parseCatalogue,
  savingsProductTerms,
  type CatalogueIssue,
  type LoanProductTerms,
  type SavingsProductTerms,
} from '../engine/catalogue.js';
import { actionsNamed, checkContextFor, checkFlow, FLOW_RULES } from '../engine/flow-check.js';
import type { FlowFile } from '../engine/flow-schema.js';
import { FLOW_MANIFESTS } from '../engine/registry.js';
import { FEE_FILE, parseFeeSchedule } from '../agents/fees.js';
import { declaredViewVars, ENGINE_FINAL_KEYS, ENGINE_KEYS, SERVER_TEXTS, type ViewVarSpec } from '../engine/manifest.js';
import type { ScreenMeta } from '../engine/types.js';
import { createTranslator, variablesOf, type Translator } from '../text/i18n.js';
import { nonGsmChars } from '../text/gsm.js';
import { DEFAULT_SCREEN_LIMITS, type ScreenLimits } from '../text/paging.js';
import { SMS_MAX_PARTS, USSD_KEYS } from '../constants.js';
import { buildFlowGraph, canFinish, components, type FlowGraph, type Step } from './flow-graph.js';
import { readLocaleFiles, type LocaleFile } from '../text/locale-files.js';
import { checkEngineText, checkScreenBudget } from './screen-budget.js';

/**
 * `kiunga lint`: everything the loader refuses, plus what it cannot see — states nobody reaches, loops with
 * no way out, menus with no way back, locale files (syntax, missing keys, undeclared variables, characters
 * outside GSM-7), and the screen budget of every prompt in every locale on every channel of its flow.
 * Messages name the file and line; errors make the exit code non-zero, warnings do not.
 */

export type Severity = 'error' | 'warning';

/** Every rule id lint reports: the loader's, then lint's own (each is documented in docs/flows.md). */
export const LINT_RULES = [
  ...FLOW_RULES,
  'locale-missing',
  'locale-syntax',
  'unknown-variable',
  'unset-variable',
  'non-gsm',
  'screen-budget',
  'sms-budget',
  'unreachable',
  'no-way-out',
  'no-way-back',
  'unused-event',
  'fee-schedule',
  'catalogue',
  'catalogue-product',
] as const;
export type LintRule = (typeof LINT_RULES)[number];

export interface LintMessage {
  severity: Severity;
  /** Rule id, documented in docs/flows.md (e.g. `unreachable`, `screen-budget`). */
  rule: LintRule;
  file: string;
  line?: number;
  /** Path in the flow file (`machine.states.menu`) or locale key (`pin.ask`). */
  where: string;
  message: string;
}

export interface LintOptions {
  flowsDir: string;
  localesDir: string;
  /** The fallback language (DEFAULT_LANGUAGE). */
  fallback: string;
  limits?: ScreenLimits;
  smsSegments?: number;
  keys?: { more: string; back: string; home: string };
  vars?: Readonly<Record<string, ViewVarSpec>>;
  /** The product catalogue (default: catalogue.yaml in flowsDir); a missing file is not an error. */
  catalogueFile?: string;
  /** Fineract's products (`kiunga lint --fineract`): the catalogue's products and terms are checked against them. */
  products?: { loan: LoanProductTerms[]; savings: SavingsProductTerms[] };
}

export interface LintReport {
  messages: LintMessage[];
  errors: number;
  warnings: number;
  flows: string[];
  languages: string[];
}

/** `flows/banking.yaml:37 error machine.states.menu.on.BALANCE: target 'balanse' does not exist [reference]` */
export function formatLintMessage(m: LintMessage): string {
  const where = m.where ? ` ${m.where}:` : ':';
  return `${m.file}${m.line ? `:${m.line}` : ''} ${m.severity}${where} ${m.message} [${m.rule}]`;
}

/** The summary line printed after the messages. */
export function summary(report: LintReport): string {
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  return `${plural(report.errors, 'error')}, ${plural(report.warnings, 'warning')} in ${plural(report.flows.length, 'flow')} and ${plural(report.languages.length, 'locale')}`;
}

export async function lint(options: LintOptions): Promise<LintReport> {
  const limits = options.limits ?? DEFAULT_SCREEN_LIMITS;
  const keys = options.keys ?? USSD_KEYS;
  const vars = options.vars ?? declaredViewVars(FLOW_MANIFESTS);
  const messages: LintMessage[] = [];
  const add = (m: LintMessage) => messages.push(m);

  // Locale files first: without them nothing else can be checked.
  const locales = await readLocaleFiles(options.localesDir);
  const byLang = new Map(locales.map((l) => [l.lang, l]));
  for (const l of locales) {
    for (const e of l.errors) add({ severity: 'error', rule: 'locale-syntax', file: l.file, line: e.line, where: '', message: e.message });
  }
  if (!byLang.has(options.fallback)) {
    add({
      severity: 'error',
      rule: 'locale-missing',
      file: relative(process.cwd(), options.localesDir) || options.localesDir,
      where: '',
      message: `the fallback language '${options.fallback}' has no ${options.fallback}.json`,
    });
  }
  let translator: Translator | undefined;
  if (!messages.some((m) => m.severity === 'error')) {
    translator = await createTranslator({ dir: options.localesDir, fallback: options.fallback });
  }

  const ctx = translator ? checkContextFor(translator) : undefined;
  const flowIds = new Map<string, string>();
  const referenced = new Set<string>();
  const names = (await readdir(options.flowsDir)).filter(isFlowFileName).sort();
  if (names.length === 0) {
    add({
      severity: 'error',
      rule: 'flow-check',
      file: relative(process.cwd(), options.flowsDir) || options.flowsDir,
      where: '',
      message: 'no flow files found',
    });
  }

  for (const name of names) {
    const path = join(options.flowsDir, name);
    const file = relative(process.cwd(), path) || name;
    const parsed = parseFlowSource(file, await readFile(path, 'utf8'));
    const fromIssue = (i: FlowIssue): LintMessage => ({
      severity: 'error',
      rule: i.rule,
      file,
      line: i.line,
      where: i.path.join('.'),
      message: i.message,
    });
    parsed.issues.forEach((i) => add(fromIssue(i)));
    const flow = parsed.flow;
    if (!flow) continue;
    const earlier = flowIds.get(flow.id);
    if (earlier)
      add({
        severity: 'error',
        rule: 'flow-check',
        file,
        line: parsed.lineOf(['id']),
        where: 'id',
        message: `flow id '${flow.id}' is already used by ${earlier}`,
      });
    flowIds.set(flow.id, file);
    collectKeys(flow, referenced);
    const checkedIssues = ctx ? checkFlow(flow, ctx) : [];
    const checked = checkedIssues.map((p) => fromIssue({ ...p, file, line: parsed.lineOf(p.path) }));
    checked.forEach(add);

    const graph = buildFlowGraph(flow);
    const at = (filePath: (string | number)[]) => ({ file, line: parsed.lineOf(filePath), where: filePath.join('.') });
    // A target that does not resolve leaves a hole in the graph: fix it before reading graph checks.
    if (!checkedIssues.some((p) => 'unresolved' in p && p.unresolved)) lintGraph(graph, keys, checked, at, add);

    if (translator) lintFlowVariables(flow, graph, translator, vars, at, add);

    if (translator) {
      const channels = flow.channels.filter((c) => c === 'ussd' || c === 'sms');
      for (const state of graph.states.values()) {
        const meta = state.node.config.meta as ScreenMeta | undefined;
        if (!meta?.prompt) continue;
        const flowAt = `${state.node.filePath.join('.')} (${file}:${parsed.lineOf(state.node.filePath) ?? '?'})`;
        for (const lang of translator.languages) {
          if (!translator.has(lang, meta.prompt)) continue; // reported as missing
          const problems = checkScreenBudget(translator, lang, meta, state.final, channels, {
            limits,
            smsSegments: options.smsSegments ?? SMS_MAX_PARTS,
            keys,
            vars,
          });
          for (const p of problems) {
            const locale = byLang.get(lang);
            add({
              severity: 'error',
              rule: p.channel === 'sms' ? 'sms-budget' : 'screen-budget',
              file: locale?.file ?? lang,
              line: locale?.lineOf(p.key),
              where: p.key,
              message: `${p.channel} screen of ${flowAt} in '${lang}': ${p.message}`,
            });
          }
        }
      }
    }
  }

  // The agent fee schedule (flows/fees/agent-fees.yaml): data the flows do not read, checked with its schema.
  const feePath = join(options.flowsDir, FEE_FILE);
  const feeSource = await readFile(feePath, 'utf8').catch(() => undefined);
  if (feeSource !== undefined) {
    const feeFile = relative(process.cwd(), feePath) || feePath;
    for (const p of parseFeeSchedule(feeSource).problems)
      add({ severity: 'error', rule: 'fee-schedule', file: feeFile, line: p.line, where: p.path, message: p.message });
  }

  await lintCatalogue(options, translator ? [...translator.languages] : locales.map((l) => l.lang), add);

  if (translator) lintLocales(translator, byLang, referenced, limits, vars, options.fallback, add);

  messages.sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0));
  const errors = messages.filter((m) => m.severity === 'error').length;
  return {
    messages,
    errors,
    warnings: messages.length - errors,
    flows: [...flowIds.keys()],
    languages: translator ? [...translator.languages] : locales.map((l) => l.lang),
  };
}

/**
 * The product catalogue: its schema offline (rule `catalogue`, with a warning for a shown product without a
 * display name in a language), and with Fineract's products its ids, currency and terms (`catalogue-product`).
 */
async function lintCatalogue(options: LintOptions, languages: string[], add: (m: LintMessage) => void): Promise<void> {
  const path = options.catalogueFile ?? join(options.flowsDir, CATALOGUE_FILE_NAME);
  const file = relative(process.cwd(), path) || path;
  // No file: no catalogue, as for the server (the product-id settings apply).
  const source = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (source === undefined) return;
  const fromIssue = (i: CatalogueIssue): LintMessage => ({
    severity: i.severity,
    rule: i.rule,
    file: i.file,
    line: i.line,
    where: i.path.join('.'),
    message: i.message,
  });
  const { catalogue, issues } = parseCatalogue(file, source);
  issues.forEach((i) => add(fromIssue(i)));
  if (!catalogue) return;
  const def = catalogue.definition;
  for (const [kind, list] of [
    ['savingsProducts', def.savingsProducts],
    ['loanProducts', def.loanProducts],
  ] as const) {
    list.forEach((p, i) => {
      if (p.channels.length === 0 || !p.displayName) return;
      // Names appear on USSD screens and in SMS: one character outside GSM-7 turns an SMS into UCS-2.
      for (const [lang, name] of Object.entries(p.displayName)) {
        const path = [kind, i, 'displayName', lang];
        for (const c of nonGsmChars(name))
          add({
            severity: 'error',
            rule: 'non-gsm',
            file,
            line: catalogue.lineOf(path),
            where: path.join('.'),
            message: `"${c.char}" is not in the GSM-7 alphabet${c.suggestion ? `: write "${c.suggestion}" instead` : ''}`,
          });
      }
      for (const lang of languages.filter((l) => !(l in p.displayName!))) {
        const path = [kind, i, 'displayName'];
        add({
          severity: 'warning',
          rule: 'catalogue',
          file,
          line: catalogue.lineOf(path),
          where: path.join('.'),
          message: `no display name in '${lang}': the en one is shown`,
        });
      }
    });
  }
  if (options.products) checkCatalogueAgainstProducts(catalogue, options.products).forEach((i) => add(fromIssue(i)));
}

/**
 * Fineract's products for `kiunga lint --fineract`: from FINERACT_URL, or without it from the built-in sandbox
 * and its demo data (what `kiunga serve` would run against).
 */
export async function readFineractProducts(config: Config): Promise<NonNullable<LintOptions['products']>> {
  const sandbox = config.fineract.url ? undefined : await startSandbox({ port: 0 });
  const client = createFineractClient({
    baseUrl: config.fineract.url ?? sandbox!.url,
    tenant: config.fineract.tenant,
    username: config.fineract.username,
    password: config.fineract.password,
    timeoutMs: config.fineract.timeoutMs,
    defaultCountry: config.defaultCountry as CountryCode,
  });
  try {
    const [loan, savings] = await Promise.all([client.listLoanProducts(), client.listSavingsProducts()]);
    return { loan: loan.map(loanProductTerms), savings: savings.map(savingsProductTerms) };
  } finally {
    await client.close();
    await sandbox?.close();
  }
}

/** Every locale key a flow references. */
function collectKeys(flow: FlowFile, into: Set<string>): void {
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

type Locate = (filePath: (string | number)[]) => { file: string; line?: number; where: string };

/**
 * A screen text whose `{{variable}}` no action of this flow sets would show it empty: each text a screen
 * names may use the view variables the flow's actions set (list and choice rows also their row's), and the
 * engine's own.
 */
function lintFlowVariables(
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

/** Reachability, ways out, ways back, events nobody sends. */
function lintGraph(
  graph: FlowGraph,
  keys: { back: string; home: string },
  loaderMessages: LintMessage[],
  at: Locate,
  add: (m: LintMessage) => void,
): void {
  // Unreachable: report the topmost state nobody reaches.
  for (const s of graph.states.values()) {
    if (graph.reachable.has(s.id)) continue;
    const parent = s.id.split('.').slice(0, -1).join('.');
    if (parent && !graph.reachable.has(parent)) continue;
    add({
      severity: 'error',
      rule: 'unreachable',
      ...at(s.node.filePath),
      message: `unreachable: no transition leads to '${s.id}' from the start of the flow`,
    });
  }

  // No way out: loops of reachable states that never reach a final state.
  const finishing = canFinish(graph);
  const stuck = new Set(
    [...graph.states.values()].filter((s) => s.leaf && !s.final && graph.reachable.has(s.id) && !finishing.has(s.id)).map((s) => s.id),
  );
  for (const comp of components(graph, stuck)) {
    const inComp = new Set(comp);
    const leaves = comp.flatMap((id) => graph.steps.get(id) ?? []);
    if (leaves.some((step) => !inComp.has(step.to))) continue; // leads into another trap: report that one
    const first = graph.states.get(comp[0]!)!;
    const deadEnd = loaderMessages.some((m) => m.rule === 'dead-end' && m.where === first.node.filePath.join('.'));
    if (deadEnd) continue;
    const names = comp.map((id) => `'${id}'`).join(', ');
    add({
      severity: 'error',
      rule: 'no-way-out',
      ...at(first.node.filePath),
      message:
        comp.length === 1
          ? `no way out: from '${comp[0]}' no path reaches a final state`
          : `no way out: ${names} only lead to each other and never to a final state`,
    });
  }

  // Events declared in `on` that no screen under the state ever sends.
  const sent = new Set<string>();
  for (const list of graph.steps.values()) {
    for (const step of list) {
      const event =
        step.trigger.kind === 'option' || step.trigger.kind === 'choose' || step.trigger.kind === 'keyword'
          ? step.trigger.event
          : step.trigger.kind === 'input'
            ? 'INPUT'
            : undefined;
      if (event) sent.add(`${step.declaredBy}\u0000${event}`);
    }
  }
  const machineOn = graph.flow.machine.on ?? {};
  for (const event of Object.keys(machineOn)) {
    if (!sent.has(`\u0000${event}`))
      add({
        severity: 'warning',
        rule: 'unused-event',
        ...at(['machine', 'on', event]),
        message: `event '${event}' is never sent: no screen offers an option with it`,
      });
  }
  for (const s of graph.states.values()) {
    if (!graph.reachable.has(s.id)) continue;
    for (const event of Object.keys(s.node.config.on ?? {})) {
      if (sent.has(`${s.id}\u0000${event}`)) continue;
      const why =
        event === 'INPUT' ? 'no screen under this state takes input' : `no screen under this state offers an option with event '${event}'`;
      add({
        severity: 'warning',
        rule: 'unused-event',
        ...at([...s.node.filePath, 'on', event]),
        message: `event '${event}' is never sent here: ${why}`,
      });
    }
  }

  // Menus without a way back.
  const firstScreens = firstRestingScreens(graph);
  for (const s of graph.states.values()) {
    const meta = s.node.config.meta as ScreenMeta | undefined;
    if (!s.leaf || s.final || !graph.reachable.has(s.id) || !meta?.prompt || (!meta.options && !meta.choose)) continue;
    if (s.id === graph.home || firstScreens.has(s.id)) continue;
    const optionKeys = new Set((meta.options ?? []).map((o) => o.key));
    if (meta.choose) optionKeys.add('1');
    const engineBack = !optionKeys.has(keys.back) && !meta.checkpoint;
    const engineHome = !!graph.home && !meta.checkpoint && !optionKeys.has(keys.home) && alwaysAfter(graph, graph.home, s.id);
    const optionBack = (graph.steps.get(s.id) ?? []).some((step: Step) => step.to === graph.home || leadsTo(graph, step.to, s.id));
    if (engineBack || engineHome || optionBack) continue;
    const reasons = [
      meta.checkpoint ? 'it is a checkpoint (back history is cleared)' : `key '${keys.back}' is one of its options`,
      !graph.home
        ? 'the flow declares no home'
        : meta.checkpoint
          ? `'${keys.home}' (home) is forgotten too`
          : `'${keys.home}' (home) does not apply`,
      'no option leads back',
    ];
    add({
      severity: 'warning',
      rule: 'no-way-back',
      ...at([...s.node.filePath, 'meta']),
      message: `menu without a way back: ${reasons.join(', ')}`,
    });
  }
}

/** Resting leaves reached from the start through transient states only (the first screen of a session). */
function firstRestingScreens(graph: FlowGraph): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  const queue = [...graph.initial];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (graph.states.get(id)?.resting) {
      out.add(id);
      continue;
    }
    for (const s of graph.steps.get(id) ?? []) queue.push(s.to);
  }
  return out;
}

/** Whether `to` is reachable from `from`. */
function leadsTo(graph: FlowGraph, from: string, to: string): boolean {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (id === to) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const s of graph.steps.get(id) ?? []) queue.push(s.to);
  }
  return false;
}

/** Whether every path from the start to `target` passes through `via`. */
function alwaysAfter(graph: FlowGraph, via: string, target: string): boolean {
  const seen = new Set<string>();
  const queue = graph.initial.filter((id) => id !== via);
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (id === target) return false;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const s of graph.steps.get(id) ?? []) if (s.to !== via) queue.push(s.to);
  }
  return true;
}

/** Engine keys, variables, characters and missing keys of every locale. */
function lintLocales(
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
