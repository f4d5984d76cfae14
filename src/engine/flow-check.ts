import type { FlowFile, StateNodeConfig, TransitionConfig, ActionsConfig, NamedRef } from './flow-schema.js';
import { REQUIRED_PARAMS } from './registry.js';
import { normalizeKeyword } from './keywords.js';

/**
 * Cross-checks a schema-valid flow against the registry and the locales: every action, guard, actor,
 * target and prompt key must exist, every invoke must handle errors, and no state may be a dead end.
 * XState itself would silently ignore most of these mistakes.
 */

export interface FlowProblem {
  /** Path inside the file, e.g. ['machine', 'states', 'menu', 'on', 'BALANCE']. */
  path: (string | number)[];
  message: string;
}

/** The names a flow may reference, and the locale lookup. */
export interface CheckContext {
  actions: Set<string>;
  guards: Set<string>;
  actors: Set<string>;
  languages: string[];
  hasKey(lang: string, key: string): boolean;
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
export function resolveTarget(
  from: NodeInfo,
  target: string,
  ids: Map<string, NodeInfo>,
): NodeInfo | undefined {
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
const refParams = (ref: NamedRef) => (typeof ref === 'string' ? {} : (ref.params ?? {}));

/** Runs every cross-check and returns all problems found (empty when the flow is sound). */
export function checkFlow(flow: FlowFile, ctx: CheckContext): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const { root, ids, all } = buildTree(flow);
  const add = (path: (string | number)[], message: string) => problems.push({ path, message });

  const checkKey = (path: (string | number)[], key: string, what: string) => {
    for (const lang of ctx.languages) {
      if (!ctx.hasKey(lang, key)) add(path, `${what} '${key}' is missing in locale '${lang}'`);
    }
  };
  const checkRef = (path: (string | number)[], ref: NamedRef, kind: 'action' | 'guard') => {
    const name = refName(ref);
    const known = kind === 'action' ? ctx.actions : ctx.guards;
    if (!known.has(name)) {
      add(path, `${kind} '${name}' is not implemented (known: ${[...known].sort().join(', ')})`);
      return;
    }
    for (const p of REQUIRED_PARAMS[name] ?? []) {
      if (!(p in refParams(ref))) add(path, `${kind} '${name}' needs params.${p}`);
    }
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
        if (!resolveTarget(from, target, ids)) add([...p, ...(typeof tr === 'string' ? [] : ['target'])], `target '${target}' does not exist`);
      }
      if (typeof tr !== 'string') {
        if (tr.guard) checkRef([...p, 'guard'], tr.guard, 'guard');
        checkActions([...p, 'actions'], tr.actions);
      }
    });
  };
  const handles = (node: NodeInfo | undefined, event: string): boolean =>
    !!node && (event in (node.config.on ?? {}) || handles(node.parent, event));

  const checkInitial = (node: NodeInfo, initial: string | undefined, path: (string | number)[]) => {
    if (node.children.size === 0) return;
    if (!initial) add(path, 'a state with child states needs `initial`');
    else if (!node.children.has(initial)) add([...path, 'initial'], `initial state '${initial}' does not exist`);
  };

  /** SMS keywords: handled events, known languages, each word meaning one thing on the screen, usage texts. */
  const checkKeywords = (keywords: NonNullable<StateNodeConfig['meta']>['keywords'] & {}, path: (string | number)[], node: NodeInfo) => {
    const owner = new Map<string, string>();
    keywords.forEach((k, i) => {
      const kp = [...path, i];
      if (!handles(node, k.event)) add([...kp, 'event'], `event '${k.event}' is not handled by this state (add it to 'on')`);
      if (k.usage) checkKey([...kp, 'usage'], k.usage, 'keyword usage');
      const args = k.args ?? [];
      args.forEach((a, j) => {
        if (args.indexOf(a) !== j) add([...kp, 'args', j], `argument '${a}' is taken twice (each kind is sent once, as event.${a})`);
      });
      for (const [lang, words] of Object.entries(k.words)) {
        if (!ctx.languages.includes(lang)) add([...kp, 'words', lang], `language '${lang}' has no locale (known: ${ctx.languages.join(', ')})`);
        words.forEach((w, j) => {
          const word = normalizeKeyword(w);
          const other = owner.get(word);
          if (other !== undefined && other !== k.event) add([...kp, 'words', lang, j], `word '${w}' already sends ${other} on this screen`);
          else owner.set(word, k.event);
        });
      }
    });
  };

  checkInitial(root, flow.machine.initial, ['machine']);
  for (const [event, t] of Object.entries(flow.machine.on ?? {})) checkTransitions(root, ['machine', 'on', event], t);
  if (flow.home && !resolveTarget(root, flow.home, ids)) add(['home'], `home state '${flow.home}' does not exist`);

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
      if (!ctx.actors.has(c.invoke.src)) {
        add([...ip, 'src'], `actor '${c.invoke.src}' is not implemented (known: ${[...ctx.actors].sort().join(', ')})`);
      }
      if (!c.invoke.onDone) add(ip, 'invoke needs onDone');
      if (!c.invoke.onError) add(ip, 'invoke needs onError (what does the customer see when it fails?)');
      checkTransitions(node, [...ip, 'onDone'], c.invoke.onDone);
      checkTransitions(node, [...ip, 'onError'], c.invoke.onError);
    }
    const meta = c.meta;
    if (meta?.prompt) checkKey([...p, 'meta', 'prompt'], meta.prompt, 'prompt');
    if (meta?.list) {
      checkKey([...p, 'meta', 'list', 'item'], meta.list.item, 'list item');
      if (meta.list.empty) checkKey([...p, 'meta', 'list', 'empty'], meta.list.empty, 'list empty text');
    }
    const keys = new Set<string>();
    meta?.options?.forEach((o, i) => {
      const op = [...p, 'meta', 'options', i];
      checkKey([...op, 'label'], o.label, 'option label');
      if (keys.has(o.key)) add([...op, 'key'], `key '${o.key}' is used twice on this screen`);
      keys.add(o.key);
      if (!handles(node, o.event)) add([...op, 'event'], `event '${o.event}' is not handled by this state (add it to 'on')`);
    });
    if (meta?.choose) {
      checkKey([...p, 'meta', 'choose', 'item'], meta.choose.item, 'choice label');
      if (!handles(node, meta.choose.event)) add([...p, 'meta', 'choose', 'event'], `event '${meta.choose.event}' is not handled by this state (add it to 'on')`);
    }
    if (meta?.keywords) checkKeywords(meta.keywords, [...p, 'meta', 'keywords'], node);
    if (meta?.input && !handles(node, 'INPUT')) add([...p, 'meta', 'input'], "a state taking input must handle 'INPUT'");
    if ((meta?.options || meta?.input || meta?.choose || meta?.keywords) && !meta.prompt) add([...p, 'meta'], 'options, input and keywords need a prompt');
    if (meta?.prompt && c.invoke) add([...p, 'meta'], 'a prompt state cannot also invoke (the screen would be shown before the call ends)');
    const atomic = node.children.size === 0;
    if (atomic && !final && !c.invoke && !c.always && !meta?.options && !meta?.input && !meta?.choose && !meta?.keywords) {
      add(p, 'dead end: this state waits for nothing the customer can send (add options, input, invoke or type: final)');
    }
    if (final && (meta?.options || meta?.input || meta?.choose || meta?.keywords)) add([...p, 'meta'], 'a final state ends the session and cannot take input');
  }
  return problems;
}
