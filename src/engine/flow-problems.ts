import { FLOW_MANIFESTS } from './registry.js';
import type { ManifestSet } from './manifest.js';
import type { Translator } from '../text/i18n.js';

/**
 * What the flow checks report (rule ids and problems) and what they check against (the registry's manifests and
 * the locales).
 */

/** Rule ids of the problems the loader finds (`kiunga lint` reports them with the same ids). */
export const FLOW_RULES = [
  'syntax',
  'flow-check',
  'reference',
  'unknown-error-code',
  'unraised-error-code',
  'param-type',
  'param-missing',
  'undeclared-flag',
  'undeclared-list',
  'dead-end',
  'step-up',
] as const;
export type FlowRule = (typeof FLOW_RULES)[number];

interface ProblemBase {
  /** Path inside the file, e.g. ['machine', 'states', 'menu', 'on', 'BALANCE']. */
  path: (string | number)[];
  message: string;
}

/** A mistake in the flow itself. `unresolved` marks a target or initial state that does not exist. */
export interface StructureProblem extends ProblemBase {
  rule: FlowRule;
  unresolved?: boolean;
}

/** A text the flow names that a locale lacks: the flow is right, the locale file is to be completed. */
export interface LocaleProblem extends ProblemBase {
  rule: 'locale-missing';
  lang: string;
  key: string;
}

export type FlowProblem = StructureProblem | LocaleProblem;

/** The names a flow may reference (the registry's manifests), and the locale lookup. */
export interface CheckContext {
  manifests: ManifestSet;
  languages: string[];
  hasKey(lang: string, key: string): boolean;
}

/** The check context of the registry's manifests and these locales (builds no implementation). */
export function checkContextFor(translator: Translator, manifests: ManifestSet = FLOW_MANIFESTS): CheckContext {
  return { manifests, languages: [...translator.languages], hasKey: (lang, key) => translator.has(lang, key) };
}

/** Records a structural problem (rule `flow-check` unless given); `unresolved` marks a target that does not exist. */
export type AddProblem = (path: (string | number)[], message: string, rule?: FlowRule, unresolved?: true) => void;
