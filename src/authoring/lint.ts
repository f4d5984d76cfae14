import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isFlowFileName, parseFlowSource, type FlowIssue } from '../engine/flow-loader.js';
import { checkContextFor, checkFlow } from '../engine/flow-check.js';
import { FLOW_MANIFESTS } from '../engine/registry.js';
import { FEE_FILE, parseFeeSchedule } from '../agents/fees.js';
import { declaredViewVars } from '../engine/manifest.js';
import type { ScreenMeta } from '../engine/types.js';
import { createTranslator, type Translator } from '../text/i18n.js';
import { DEFAULT_SCREEN_LIMITS } from '../text/paging.js';
import { SMS_MAX_PARTS, USSD_KEYS } from '../constants.js';
import { buildFlowGraph } from './flow-graph.js';
import { readLocaleFiles } from '../text/locale-files.js';
import { checkScreenBudget } from './screen-budget.js';
import { lintCatalogue } from './lint-catalogue.js';
import { lintGraph } from './lint-graph.js';
import type { LintMessage, LintOptions, LintReport } from './lint-report.js';
import { collectKeys, lintFlowVariables, lintLocales } from './lint-text.js';

/**
 * `kiunga lint`: everything the loader refuses, plus what it cannot see — states nobody reaches, loops with
 * no way out, menus with no way back, locale files (syntax, missing keys, undeclared variables, characters
 * outside GSM-7), and the screen budget of every prompt in every locale on every channel of its flow.
 * Messages name the file and line; errors make the exit code non-zero, warnings do not.
 */
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
