import { buildTree, resolveTarget, type NodeInfo } from '../engine/flow-check.js';
import type { FlowFile, NamedRef, TransitionConfig } from '../engine/flow-schema.js';
import type { ScreenMeta } from '../engine/types.js';

/**
 * The flow as an author sees it: the states a customer can be in (leaves of the state tree) and the steps
 * between them, each labelled with what causes it (a key pressed, an input typed, an actor succeeding or
 * failing, an eventless transition). Lint (reachability, dead ends, ways back), `kiunga test` (coverage,
 * shortest paths) and `kiunga graph` all read this one model.
 *
 * It is built from the flow file (the loader's tree and target resolution), not by running the machine:
 * actor outcomes and guards are not simulated, so every guarded branch counts as possible. xstate/graph can
 * only explore a machine by running it, which would need fake actor outputs for every invoke; this model
 * gives author-level labels instead (key 1, "verifyPin fails with pin-wrong").
 */

/** What makes a step happen. */
export type Trigger =
  | { kind: 'dial' }
  | { kind: 'option'; key: string; label: string; event: string; if?: string }
  | { kind: 'choose'; items: string; event: string }
  | { kind: 'input'; input: string }
  | { kind: 'keyword'; word: string; args: string[]; event: string }
  | { kind: 'done'; actor: string }
  | { kind: 'error'; actor: string }
  | { kind: 'always' };

export interface Step {
  from: string;
  /** The leaf entered (a compound target enters its initial children). */
  to: string;
  trigger: Trigger;
  /** Human-readable guard, e.g. `errorIs(code=pin-wrong)`; the step may happen only when it holds. */
  guard?: string;
  /** The node whose transition this is (the leaf itself or an ancestor). */
  declaredBy: string;
  /** Where the transition is in the flow file. */
  filePath: (string | number)[];
}

export interface GraphState {
  /** Dot path of state keys, e.g. `menu` or `transfer.amount`. */
  id: string;
  node: NodeInfo;
  leaf: boolean;
  final: boolean;
  /** The screen shown while this leaf rests (its own prompt or the nearest ancestor's). */
  screen?: { id: string; meta: ScreenMeta };
  /** A leaf that waits for the customer (a prompt) or ends; other leaves pass by within a hop. */
  resting: boolean;
}

export interface FlowGraph {
  flow: FlowFile;
  states: Map<string, GraphState>;
  /** Leaves the machine starts in (normally one). */
  initial: string[];
  /** Steps out of each leaf. */
  steps: Map<string, Step[]>;
  /** State ids reached from the initial state (leaves and their ancestors). */
  reachable: Set<string>;
  /** The home state id (`home:`), if declared and resolvable. */
  home?: string;
}

export const stateId = (node: NodeInfo) => node.path.join('.');

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** `errorIs(code=pin-wrong)` for a guard reference. */
export function describeGuard(ref: NamedRef): string {
  if (typeof ref === 'string') return ref;
  const params = Object.entries(ref.params ?? {}).map(([k, v]) => `${k}=${v}`);
  return params.length > 0 ? `${ref.type}(${params.join(', ')})` : ref.type;
}

/** The leaves entered when `node` is entered. */
function enter(node: NodeInfo): NodeInfo[] {
  if (node.children.size === 0) return [node];
  const initial = node.config.initial ? node.children.get(node.config.initial) : undefined;
  return initial ? enter(initial) : [];
}

/** The node and its ancestors, deepest first (root included). */
function chain(node: NodeInfo): NodeInfo[] {
  const out: NodeInfo[] = [];
  for (let n: NodeInfo | undefined = node; n; n = n.parent) out.push(n);
  return out;
}

/** Builds the graph of a schema-valid flow (unresolvable targets are skipped: the loader reports them). */
export function buildFlowGraph(flow: FlowFile): FlowGraph {
  const { root, ids, all } = buildTree(flow);
  const states = new Map<string, GraphState>();
  for (const node of all) {
    const leaf = node.children.size === 0;
    const screenNode = chain(node).find((n) => n.config.meta?.prompt);
    const screen = screenNode ? { id: stateId(screenNode), meta: screenNode.config.meta as ScreenMeta } : undefined;
    const final = node.config.type === 'final';
    states.set(stateId(node), { id: stateId(node), node, leaf, final, screen, resting: leaf && (final || !!screen) });
  }

  const steps = new Map<string, Step[]>();
  for (const leafNode of all.filter((n) => n.children.size === 0)) {
    const from = stateId(leafNode);
    const out: Step[] = [];
    const nodes = chain(leafNode);
    const add = (declarer: NodeInfo, t: TransitionConfig | undefined, trigger: Trigger, filePath: (string | number)[]) => {
      const list = asArray(t);
      for (const [i, tr] of list.entries()) {
        const obj = typeof tr === 'string' ? { target: tr } : tr;
        const p = Array.isArray(t) ? [...filePath, i] : filePath;
        const guard = typeof tr === 'string' || !tr.guard ? undefined : describeGuard(tr.guard);
        for (const target of asArray(obj.target)) {
          const node = resolveTarget(declarer, target, ids);
          if (!node) continue;
          for (const leaf of enter(node)) {
            out.push({ from, to: stateId(leaf), trigger, guard, declaredBy: stateId(declarer), filePath: p });
          }
        }
      }
    };
    /** The transitions an event takes: the deepest handler, and its ancestors' while all of it is guarded. */
    const handle = (event: string, trigger: Trigger) => {
      for (const n of nodes) {
        const t = n.config.on?.[event];
        if (t === undefined) continue;
        add(n, t, trigger, [...n.filePath, 'on', event]);
        const unguarded = asArray(t).some((tr) => typeof tr === 'string' || !tr.guard);
        if (unguarded) break;
      }
    };
    if (leafNode.config.type !== 'final') {
      const screen = states.get(from)?.screen;
      for (const o of screen?.meta.options ?? []) {
        handle(o.event, { kind: 'option', key: o.key, label: o.label, event: o.event, ...(o.if ? { if: o.if } : {}) });
      }
      if (screen?.meta.choose) {
        handle(screen.meta.choose.event, { kind: 'choose', items: screen.meta.choose.items, event: screen.meta.choose.event });
      }
      if (screen?.meta.input) handle('INPUT', { kind: 'input', input: screen.meta.input });
      for (const k of screen?.meta.keywords ?? []) {
        const word = Object.values(k.words)[0]?.[0] ?? k.event;
        handle(k.event, { kind: 'keyword', word, args: k.args ?? [], event: k.event });
      }
      for (const n of nodes) {
        if (n === root) continue;
        if (n.config.always) add(n, n.config.always, { kind: 'always' }, [...n.filePath, 'always']);
        const inv = n.config.invoke;
        if (inv) {
          add(n, inv.onDone, { kind: 'done', actor: inv.src }, [...n.filePath, 'invoke', 'onDone']);
          add(n, inv.onError, { kind: 'error', actor: inv.src }, [...n.filePath, 'invoke', 'onError']);
        }
      }
    }
    steps.set(from, out);
  }

  const initial = enter(root).map(stateId);
  const reachable = new Set<string>();
  const queue = [...initial];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const parts = id.split('.');
    for (let n = 1; n <= parts.length; n++) reachable.add(parts.slice(0, n).join('.'));
    for (const s of steps.get(id) ?? []) queue.push(s.to);
  }
  const homeNode = flow.home ? resolveTarget(root, flow.home, ids) : undefined;
  return { flow, states, initial, steps, reachable, home: homeNode ? stateId(homeNode) : undefined };
}

/** Whether the step is caused by something the customer sends (and so costs one hop). */
export const isCustomerStep = (t: Trigger) => t.kind === 'option' || t.kind === 'choose' || t.kind === 'input' || t.kind === 'keyword';

/**
 * Shortest paths (fewest customer hops) from the start to every reachable leaf: the dial is the first hop,
 * every key or input another; actor outcomes and eventless steps are free, except a guarded success (below).
 */
export function shortestPaths(graph: FlowGraph): Map<string, Step[]> {
  const best = new Map<string, { cost: number; path: Step[] }>();
  const queue: { id: string; cost: number; path: Step[] }[] = [];
  for (const id of graph.initial) {
    queue.push({ id, cost: 1, path: [{ from: '', to: id, trigger: { kind: 'dial' }, declaredBy: '', filePath: ['machine', 'initial'] }] });
  }
  while (queue.length > 0) {
    queue.sort((a, b) => a.cost - b.cost);
    const { id, cost, path } = queue.shift()!;
    const known = best.get(id);
    if (known && known.cost <= cost) continue;
    best.set(id, { cost, path });
    for (const step of graph.steps.get(id) ?? []) queue.push({ id: step.to, cost: cost + stepCost(step), path: [...path, step] });
  }
  return new Map([...best].map(([id, v]) => [id, v.path]));
}

/**
 * A guarded onDone branch (`codePending`, `outcomeIs processing`) needs the world in a particular state that a
 * case following the path does not arrange (a code left open by an earlier session, a transfer left
 * processing): a path through one is taken only when no path of fewer than this many hops avoids it.
 */
const GUARDED_OUTCOME_COST = 100;

function stepCost(step: Step): number {
  if (isCustomerStep(step.trigger)) return 1;
  return step.trigger.kind === 'done' && step.guard ? GUARDED_OUTCOME_COST : 0;
}

/** Leaves from which some final state can be reached (the customer can always finish from them). */
export function canFinish(graph: FlowGraph): Set<string> {
  const reverse = new Map<string, string[]>();
  for (const [from, list] of graph.steps) {
    for (const s of list) reverse.set(s.to, [...(reverse.get(s.to) ?? []), from]);
  }
  const ok = new Set<string>();
  const queue = [...graph.states.values()].filter((s) => s.leaf && s.final).map((s) => s.id);
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (ok.has(id)) continue;
    ok.add(id);
    queue.push(...(reverse.get(id) ?? []));
  }
  return ok;
}

/** Strongly connected components of the leaves in `subset` (Tarjan), each in file order. */
export function components(graph: FlowGraph, subset: Set<string>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const s of graph.steps.get(v) ?? []) {
      if (!subset.has(s.to)) continue;
      if (!index.has(s.to)) {
        visit(s.to);
        low.set(v, Math.min(low.get(v)!, low.get(s.to)!));
      } else if (onStack.has(s.to)) low.set(v, Math.min(low.get(v)!, index.get(s.to)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      out.push(comp);
    }
  };
  for (const v of subset) if (!index.has(v)) visit(v);
  const order = [...graph.states.keys()];
  return out.map((c) => c.sort((a, b) => order.indexOf(a) - order.indexOf(b)));
}

/** The state ids (leaves and ancestors) active in an XState state value, e.g. `{ transfer: 'amount' }`. */
export function idsOfStateValue(value: unknown, prefix: string[] = []): string[] {
  if (typeof value === 'string') return [[...prefix, value].join('.')];
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [
      [...prefix, k].join('.'),
      ...idsOfStateValue(v, [...prefix, k]),
    ]);
  }
  return [];
}
