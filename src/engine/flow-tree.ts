import type { FlowFile, StateNodeConfig, TransitionConfig, ActionsConfig, NamedRef } from './flow-schema.js';

/**
 * The state tree of a flow file as the checks walk it: nodes with parent links, targets resolved the way XState
 * resolves them, and the actions a flow names. Used by the loader's checks and by the authoring tools' graphs.
 */

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

export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export const refName = (ref: NamedRef) => (typeof ref === 'string' ? ref : ref.type);
export const refParams = (ref: NamedRef) => (typeof ref === 'string' ? undefined : ref.params);

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
