import type { FlowFile, StateNodeConfig, TransitionConfig, ActionsConfig, NamedRef } from './flow-schema.js';
import { ANY_ACTOR_ERRORS, FLOW_ERROR_CODES } from './registry.js';
import { normalizeKeyword } from './keywords.js';
import type { Manifest } from './manifest.js';
import type { CheckContext, FlowProblem, FlowRule } from './flow-problems.js';
import { actionsNamed, asArray, buildTree, refName, refParams, resolveTarget, type NodeInfo } from './flow-tree.js';
import { checkParams, suggest } from './flow-check-params.js';
import { stepUpChecks } from './flow-check-step-up.js';

/**
 * Cross-checks a schema-valid flow against the registry's manifests and the locales: every action, guard,
 * actor, target and prompt key must exist, every parameter must have its declared type (an `errorIs` code
 * is one of the closed set), every `if:` flag and view list must be set by an action of the flow, every
 * invoke must handle errors, no state may be a dead end, and a one-time code an actor asks for must be
 * collected and checked (step-up). XState itself would silently ignore most of these mistakes.
 *
 * The parts live beside it: the state tree and target resolution in `flow-tree.ts`, the parameter checks in
 * `flow-check-params.ts`, step-up in `flow-check-step-up.ts`, rule ids and problem shapes in `flow-problems.ts`;
 * this module re-exports what its importers use from them.
 */

export {
  FLOW_RULES,
  checkContextFor,
  type FlowRule,
  type StructureProblem,
  type LocaleProblem,
  type FlowProblem,
  type CheckContext,
} from './flow-problems.js';
export { buildTree, resolveTarget, actionsNamed, type NodeInfo } from './flow-tree.js';
export { closest, suggest } from './flow-check-params.js';

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
  const checkRef = (path: (string | number)[], r: NamedRef, kind: 'action' | 'guard') => {
    const name = refName(r);
    const known = kind === 'action' ? manifests.actions : manifests.guards;
    const manifest = known[name];
    if (!manifest) {
      ref(path, `${kind} '${name}' is not implemented (known: ${Object.keys(known).sort().join(', ')})`);
      return;
    }
    checkParams(add, path, kind, name, manifest, refParams(r));
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

  const { checkStepUp, checkCodePrompt } = stepUpChecks(add, ids, manifests);

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
