import type { LoanProductTerms, SavingsProductTerms } from '../engine/catalogue.js';
import { FLOW_RULES } from '../engine/flow-check.js';
import type { ViewVarSpec } from '../engine/manifest.js';
import type { ScreenLimits } from '../text/paging.js';

/* What `kiunga lint` reports (`lint` in lint.ts): its rules, messages, options and report, and how they print. */

/** How bad a message is: errors make `kiunga lint` exit non-zero, warnings do not. */
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

/** Where a path of a flow file is: its file, line and dotted path, as a message names them. */
export type Locate = (filePath: (string | number)[]) => { file: string; line?: number; where: string };
