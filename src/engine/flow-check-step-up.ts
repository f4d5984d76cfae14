import type { TransitionConfig } from './flow-schema.js';
import type { ManifestSet } from './manifest.js';
import type { AddProblem } from './flow-problems.js';
import { asArray, refName, refParams, resolveTarget, type NodeInfo } from './flow-tree.js';

/**
 * Step-up (threat T31), declared by the manifests: an actor that `asks` for a one-time code must have its
 * `code-required` branch lead to a prompt taking `input: code`, and every such prompt must lead into an
 * actor that `checks` the code (never into another actor, which would take the code for something else).
 */
export function stepUpChecks(
  add: AddProblem,
  ids: Map<string, NodeInfo>,
  manifests: ManifestSet,
): {
  /** The `onError` of an actor that asks for a code: it must branch on `code-required` into a code prompt. */
  checkStepUp: (node: NodeInfo, src: string, path: (string | number)[], t: TransitionConfig | undefined) => void;
  /** A state taking `input: code`: its `INPUT` must lead into an actor that checks the code. */
  checkCodePrompt: (node: NodeInfo) => void;
} {
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
  return { checkStepUp, checkCodePrompt };
}
