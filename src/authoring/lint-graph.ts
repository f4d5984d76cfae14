import type { ScreenMeta } from '../engine/types.js';
import { canFinish, components, type FlowGraph, type Step } from './flow-graph.js';
import type { LintMessage, Locate } from './lint-report.js';

/** Reachability, ways out, ways back, events nobody sends. */
export function lintGraph(
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
