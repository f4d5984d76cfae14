import type { FlowFile, StateNodeConfig, TransitionConfig, ActionsConfig, NamedRef } from './flow-schema.js';
import { ANY_ACTOR_ERRORS, errorCodeParam, FLOW_ERROR_CODES, FLOW_MANIFESTS } from './registry.js';
import { normalizeKeyword } from './keywords.js';
import type { Manifest, ManifestSet } from './manifest.js';
import type { Translator } from '../text/i18n.js';

/**
 * Cross-checks a schema-valid flow against the registry's manifests and the locales: every action, guard,
 * actor, target and prompt key must exist, every parameter must have its declared type (an `errorIs` code
 * is one of the closed set), every `if:` flag and view list must be set by an action of the flow, every
 * invoke must handle errors, no state may be a dead end, and a one-time code an actor asks for must be
 * collected and checked (step-up). XState itself would silently ignore most of these mistakes.
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

export interface NodeInfo {
  key: string;
  /** State keys from the root, e.g. ['menu']. */
  path: string[];
  /** Path of this node inside the file. */
  filePath: (string | number)[];
  config: StateNodeConfig;
  parent?: NodeInfo;
  children: Map<string, NodeInfo>;
}

/** Builds the state tree with parent links (the root has key '' and the machine's states as children). */
export function buildTree(flow: FlowFile): { root: NodeInfo; ids: Map<string, NodeInfo>; all: NodeInfo[] } {
  const ids = new Map<string, NodeInfo>();
  const all: NodeInfo[] = [];
  const root: NodeInfo = {
    key: '',
    path: [],
    filePath: ['machine'],
    config: { initial: flow.machine.initial, states: flow.machine.states, on: flow.machine.on },
    children: new Map(),
  };
  ids.set(flow.id, root);
  const walk = (node: NodeInfo) => {
    for (const [key, config] of Object.entries(node.config.states ?? {})) {
      const child: NodeInfo = {
        key,
        path: [...node.path, key],
        filePath: [...node.filePath, 'states', key],
        config,
        parent: node,
        children: new Map(),
      };
      node.children.set(key, child);
      all.push(child);
      if (config.id) ids.set(config.id, child);
      walk(child);
    }
  };
  walk(root);
  return { root, ids, all };
}

/** Resolves a transition target the way XState does: sibling by default, `.child`, or `#id.path`. */
export function resolveTarget(from: NodeInfo, target: string, ids: Map<string, NodeInfo>): NodeInfo | undefined {
  const descend = (start: NodeInfo | undefined, segments: string[]) => {
    let node = start;
    for (const s of segments) node = node?.children.get(s);
    return node;
  };
  if (target.startsWith('#')) {
    const [id, ...rest] = target.slice(1).split('.');
    return descend(ids.get(id ?? ''), rest);
  }
  if (target.startsWith('.')) return descend(from, target.slice(1).split('.'));
  return descend(from.parent ?? from, target.split('.'));
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const refName = (ref: NamedRef) => (typeof ref === 'string' ? ref : ref.type);
const refParams = (ref: NamedRef) => (typeof ref === 'string' ? undefined : ref.params);

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/** The known value closest to a misspelt one, if one is close. */
export function closest(value: string, known: readonly string[]): string | undefined {
  const scored = known.map((k) => ({ k, d: distance(value.toLowerCase(), k.toLowerCase()) }));
  const best = scored.filter((x) => x.d <= Math.max(2, Math.floor(x.k.length / 3))).sort((a, b) => a.d - b.d)[0];
  return best?.k;
}

/** ` (did you mean 'pin-wrong'? known: …)` when one known value is close, else ` (known: …)`. */
export function suggest(value: string, known: readonly string[]): string {
  const near = closest(value, known);
  const list = `known: ${[...known].sort().join(', ')}`;
  return near ? ` (did you mean '${near}'? ${list})` : ` (${list})`;
}

/** Every action a flow names (entry, exit and transition actions), to know which flags and lists it sets. */
export function actionsNamed(flow: FlowFile, nodes: NodeInfo[] = buildTree(flow).all): Set<string> {
  const names = new Set<string>();
  const fromActions = (a: ActionsConfig | undefined) => asArray(a).forEach((r) => names.add(refName(r)));
  const fromTransitions = (t: TransitionConfig | undefined) =>
    asArray(t).forEach((tr) => typeof tr !== 'string' && fromActions(tr.actions));
  Object.values(flow.machine.on ?? {}).forEach(fromTransitions);
  for (const { config: c } of nodes) {
    fromActions(c.entry);
    fromActions(c.exit);
    Object.values(c.on ?? {}).forEach(fromTransitions);
    fromTransitions(c.always);
    fromTransitions(c.invoke?.onDone);
    fromTransitions(c.invoke?.onError);
  }
  return names;
}

/** Runs every cross-check and returns all problems found (empty when the flow is sound). */
export function checkFlow(flow: FlowFile, ctx: CheckContext): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const { root, ids, all } = buildTree(flow);
  const { manifests } = ctx;
  const add = (path: (string | number)[], message: string, rule: FlowRule = 'flow-check', unresolved?: true) =>
    problems.push({ path, message, rule, ...(unresolved ? { unresolved } : {}) });
  const ref = (path: (string | number)[], message: string) => add(path, message, 'reference');
  const missing = (path: (string | number)[], message: string) => add(path, message, 'reference', true);

  const checkKey = (path: (string | number)[], key: string, what: string) => {
    for (const lang of ctx.languages) {
      if (!ctx.hasKey(lang, key))
        problems.push({ path, rule: 'locale-missing', lang, key, message: `${what} '${key}' is missing in locale '${lang}'` });
    }
  };
  const checkParams = (
    path: (string | number)[],
    kind: string,
    name: string,
    manifest: Manifest,
    params: Record<string, unknown> | undefined,
  ) => {
    if (!manifest.params) {
      if (params && Object.keys(params).length > 0) add([...path, 'params'], `${kind} '${name}' takes no params`, 'param-type');
      return;
    }
    const parsed = manifest.params.safeParse(params ?? {});
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      const given = params?.[key];
      const isErrorCode = manifest.params.shape[key] === errorCodeParam;
      if (issue.code === 'unrecognized_keys') {
        add(
          [...path, 'params'],
          `${kind} '${name}' has no params ${issue.keys.join(', ')} (it takes ${Object.keys(manifest.params.shape).join(', ')})`,
          'param-type',
        );
      } else if (given === undefined) {
        add(params ? [...path, 'params'] : path, `${kind} '${name}' needs params.${key}`, 'param-missing');
      } else if (issue.code === 'invalid_value' && typeof given !== 'string') {
        const values = isErrorCode ? 'an error code' : `one of ${issue.values.map(String).join(', ')}`;
        add(
          [...path, 'params', key],
          `${kind} '${name}' params.${key}: ${JSON.stringify(given)} is a ${typeof given}, not ${values}`,
          'param-type',
        );
      } else if (issue.code === 'invalid_value' && isErrorCode) {
        add(
          [...path, 'params', key],
          `${kind} '${name}': '${String(given)}' is not an error code actors reject with${suggest(String(given), FLOW_ERROR_CODES)}`,
          'unknown-error-code',
        );
      } else if (issue.code === 'invalid_value') {
        const values = issue.values.map(String);
        const near = closest(String(given), values);
        add(
          [...path, 'params', key],
          `${kind} '${name}' params.${key}: '${String(given)}' is not one of ${values.join(', ')}${near ? ` (did you mean '${near}'?)` : ''}`,
          'param-type',
        );
      } else {
        add([...path, 'params', key], `${kind} '${name}' params.${key}: ${issue.message}`, 'param-type');
      }
    }
  };
  const checkRef = (path: (string | number)[], r: NamedRef, kind: 'action' | 'guard') => {
    const name = refName(r);
    const known = kind === 'action' ? manifests.actions : manifests.guards;
    const manifest = known[name];
    if (!manifest) {
      ref(path, `${kind} '${name}' is not implemented (known: ${Object.keys(known).sort().join(', ')})`);
      return;
    }
    checkParams(path, kind, name, manifest, refParams(r));
    for (const key of manifest.keys ?? []) checkKey(path, key, `${kind} '${name}' text`);
  };

  // What the actions of this flow set: `if:` flags and view lists must be among them.
  const used = [...actionsNamed(flow, all)].map((n) => manifests.actions[n]).filter((m): m is Manifest => !!m);
  const flags = new Set(used.flatMap((m) => Object.keys(m.flags ?? {})));
  const lists = new Set(used.flatMap((m) => Object.keys(m.lists ?? {})));
  const setters = (field: 'flags' | 'lists', name: string) =>
    Object.entries(manifests.actions)
      .filter(([, m]) => name in (m[field] ?? {}))
      .map(([n]) => n);
  const checkSet = (path: (string | number)[], field: 'flags' | 'lists', name: string) => {
    const set = field === 'flags' ? flags : lists;
    if (set.has(name)) return;
    const what = field === 'flags' ? 'flag' : 'view list';
    const by = setters(field, name);
    const all = [...new Set(Object.values(manifests.actions).flatMap((m) => Object.keys(m[field] ?? {})))];
    const why =
      by.length > 0
        ? `only ${by.join(', ')} ${by.length === 1 ? 'sets' : 'set'} it, and this flow never runs ${by.length === 1 ? 'it' : 'them'}`
        : `no action sets it${suggest(name, all)}`;
    add(path, `${what} '${name}' is never set: ${why}`, field === 'flags' ? 'undeclared-flag' : 'undeclared-list');
  };
  const checkActions = (path: (string | number)[], actions: ActionsConfig | undefined) => {
    asArray(actions).forEach((a, i) => checkRef(Array.isArray(actions) ? [...path, i] : path, a, 'action'));
  };
  const checkTransitions = (from: NodeInfo, path: (string | number)[], t: TransitionConfig | undefined) => {
    const list = asArray(t);
    list.forEach((tr, i) => {
      const p = Array.isArray(t) ? [...path, i] : path;
      const obj = typeof tr === 'string' ? { target: tr } : tr;
      for (const target of asArray(obj.target)) {
        if (!resolveTarget(from, target, ids))
          missing([...p, ...(typeof tr === 'string' ? [] : ['target'])], `target '${target}' does not exist`);
      }
      if (typeof tr !== 'string') {
        if (tr.guard) checkRef([...p, 'guard'], tr.guard, 'guard');
        checkActions([...p, 'actions'], tr.actions);
      }
    });
  };
  /** An onError branch on a code the invoked actor never rejects with would never be taken. */
  const checkRaised = (src: string, actor: Manifest, path: (string | number)[], t: TransitionConfig | undefined) => {
    const raised = new Set<string>([...(actor.errors ?? []), ...ANY_ACTOR_ERRORS]);
    asArray(t).forEach((tr, i) => {
      if (typeof tr === 'string' || !tr.guard || refName(tr.guard) !== 'errorIs') return;
      const code = refParams(tr.guard)?.code;
      if (typeof code !== 'string' || raised.has(code) || !(FLOW_ERROR_CODES as readonly string[]).includes(code)) return;
      const p = [...(Array.isArray(t) ? [...path, i] : path), 'guard', 'params', 'code'];
      add(
        p,
        `actor '${src}' never rejects with '${code}': this branch would never be taken (it rejects with ${[...raised].join(', ')})`,
        'unraised-error-code',
      );
    });
  };
  const handles = (node: NodeInfo | undefined, event: string): boolean =>
    !!node && (event in (node.config.on ?? {}) || handles(node.parent, event));

  const checkInitial = (node: NodeInfo, initial: string | undefined, path: (string | number)[]) => {
    if (node.children.size === 0) return;
    if (!initial) add(path, 'a state with child states needs `initial`', 'reference', true);
    else if (!node.children.has(initial)) missing([...path, 'initial'], `initial state '${initial}' does not exist`);
  };

  /** SMS keywords: handled events, known languages, each word meaning one thing on the screen, usage texts. */
  const checkKeywords = (keywords: NonNullable<StateNodeConfig['meta']>['keywords'] & {}, path: (string | number)[], node: NodeInfo) => {
    const owner = new Map<string, string>();
    keywords.forEach((k, i) => {
      const kp = [...path, i];
      if (!handles(node, k.event)) ref([...kp, 'event'], `event '${k.event}' is not handled by this state (add it to 'on')`);
      if (k.usage) checkKey([...kp, 'usage'], k.usage, 'keyword usage');
      const args = k.args ?? [];
      args.forEach((a, j) => {
        if (args.indexOf(a) !== j) add([...kp, 'args', j], `argument '${a}' is taken twice (each kind is sent once, as event.${a})`);
      });
      for (const [lang, words] of Object.entries(k.words)) {
        if (!ctx.languages.includes(lang))
          add([...kp, 'words', lang], `language '${lang}' has no locale (known: ${ctx.languages.join(', ')})`);
        words.forEach((w, j) => {
          const word = normalizeKeyword(w);
          const other = owner.get(word);
          if (other !== undefined && other !== k.event) add([...kp, 'words', lang, j], `word '${w}' already sends ${other} on this screen`);
          else owner.set(word, k.event);
        });
      }
    });
  };

  /**
   * Step-up (threat T31), declared by the manifests: an actor that `asks` for a one-time code must have its
   * `code-required` branch lead to a prompt taking `input: code`, and every such prompt must lead into an
   * actor that `checks` the code (never into another actor, which would take the code for something else).
   */
  const checkers = Object.entries(manifests.actors)
    .filter(([, m]) => m.code === 'checks')
    .map(([n]) => n);
  const checkStepUp = (node: NodeInfo, src: string, path: (string | number)[], t: TransitionConfig | undefined) => {
    const branches = asArray(t);
    const i = branches.findIndex(
      (tr) => typeof tr !== 'string' && !!tr.guard && refName(tr.guard) === 'errorIs' && refParams(tr.guard)?.code === 'code-required',
    );
    if (i < 0) {
      add(
        path,
        `actor '${src}' may send a one-time code and reject with code-required: branch on it ` +
          `({ guard: { type: errorIs, params: { code: code-required } }, target: <a prompt with input: code> }), ` +
          `or the code sent is never asked for`,
        'step-up',
      );
      return;
    }
    const branch = branches[i] as Exclude<TransitionConfig, string | unknown[]>;
    for (const target of asArray(branch.target)) {
      const to = resolveTarget(node, target, ids);
      if (to && to.config.meta?.input !== 'code') {
        add(
          [...(Array.isArray(t) ? [...path, i] : path), 'target'],
          `code-required must lead to a prompt with input: code, and '${target}' takes ${to.config.meta?.input ? `input: ${to.config.meta.input}` : 'no input'}`,
          'step-up',
        );
      }
    }
  };
  const checkCodePrompt = (node: NodeInfo) => {
    const input = node.config.on?.INPUT;
    asArray(input).forEach((tr, i) => {
      const obj = typeof tr === 'string' ? { target: tr } : tr;
      for (const target of asArray(obj.target)) {
        const to = resolveTarget(node, target, ids);
        const src = to?.config.invoke?.src;
        if (!to || (src && manifests.actors[src]?.code === 'checks')) continue;
        const p = [...node.filePath, 'on', 'INPUT', ...(Array.isArray(input) ? [i] : []), ...(typeof tr === 'string' ? [] : ['target'])];
        add(
          p,
          `a code prompt must lead into an actor that checks the code (${checkers.join(', ') || 'none is registered'}), and '${target}' ` +
            `${src ? `invokes '${src}'` : 'invokes nothing'}`,
          'step-up',
        );
      }
    });
  };

  checkInitial(root, flow.machine.initial, ['machine']);
  for (const [event, t] of Object.entries(flow.machine.on ?? {})) checkTransitions(root, ['machine', 'on', event], t);
  if (flow.home && !resolveTarget(root, flow.home, ids)) ref(['home'], `home state '${flow.home}' does not exist`);

  for (const node of all) {
    const c = node.config;
    const p = node.filePath;
    const final = c.type === 'final';
    checkInitial(node, c.initial, p);
    checkActions([...p, 'entry'], c.entry);
    checkActions([...p, 'exit'], c.exit);
    for (const [event, t] of Object.entries(c.on ?? {})) checkTransitions(node, [...p, 'on', event], t);
    checkTransitions(node, [...p, 'always'], c.always);
    if (c.invoke) {
      const ip = [...p, 'invoke'];
      const actor = manifests.actors[c.invoke.src];
      if (!actor)
        ref([...ip, 'src'], `actor '${c.invoke.src}' is not implemented (known: ${Object.keys(manifests.actors).sort().join(', ')})`);
      for (const key of actor?.keys ?? []) checkKey([...ip, 'src'], key, `actor '${c.invoke.src}' text`);
      if (!c.invoke.onDone) add(ip, 'invoke needs onDone');
      if (!c.invoke.onError) add(ip, 'invoke needs onError (what does the customer see when it fails?)');
      checkTransitions(node, [...ip, 'onDone'], c.invoke.onDone);
      checkTransitions(node, [...ip, 'onError'], c.invoke.onError);
      if (actor) checkRaised(c.invoke.src, actor, [...ip, 'onError'], c.invoke.onError);
      if (actor?.code === 'asks') checkStepUp(node, c.invoke.src, [...ip, 'onError'], c.invoke.onError);
    }
    const meta = c.meta;
    if (meta?.prompt) checkKey([...p, 'meta', 'prompt'], meta.prompt, 'prompt');
    if (meta?.list) {
      checkKey([...p, 'meta', 'list', 'item'], meta.list.item, 'list item');
      checkSet([...p, 'meta', 'list', 'items'], 'lists', meta.list.items);
      if (meta.list.empty) checkKey([...p, 'meta', 'list', 'empty'], meta.list.empty, 'list empty text');
    }
    const keys = new Set<string>();
    meta?.options?.forEach((o, i) => {
      const op = [...p, 'meta', 'options', i];
      checkKey([...op, 'label'], o.label, 'option label');
      if (keys.has(o.key)) add([...op, 'key'], `key '${o.key}' is used twice on this screen`);
      keys.add(o.key);
      if (!handles(node, o.event)) ref([...op, 'event'], `event '${o.event}' is not handled by this state (add it to 'on')`);
      if (o.if) checkSet([...op, 'if'], 'flags', o.if);
    });
    if (meta?.choose) {
      checkKey([...p, 'meta', 'choose', 'item'], meta.choose.item, 'choice label');
      if (!handles(node, meta.choose.event))
        ref([...p, 'meta', 'choose', 'event'], `event '${meta.choose.event}' is not handled by this state (add it to 'on')`);
      checkSet([...p, 'meta', 'choose', 'items'], 'lists', meta.choose.items);
    }
    if (meta?.keywords) checkKeywords(meta.keywords, [...p, 'meta', 'keywords'], node);
    if (meta?.input && !handles(node, 'INPUT')) add([...p, 'meta', 'input'], "a state taking input must handle 'INPUT'");
    if (meta?.input === 'code') checkCodePrompt(node);
    if ((meta?.options || meta?.input || meta?.choose || meta?.keywords) && !meta.prompt)
      add([...p, 'meta'], 'options, input and keywords need a prompt');
    if (meta?.prompt && c.invoke) add([...p, 'meta'], 'a prompt state cannot also invoke (the screen would be shown before the call ends)');
    const atomic = node.children.size === 0;
    if (atomic && !final && !c.invoke && !c.always && !meta?.options && !meta?.input && !meta?.choose && !meta?.keywords) {
      add(p, 'dead end: this state waits for nothing the customer can send (add options, input, invoke or type: final)', 'dead-end');
    }
    if (final && (meta?.options || meta?.input || meta?.choose || meta?.keywords))
      add([...p, 'meta'], 'a final state ends the session and cannot take input');
  }
  return problems;
}
