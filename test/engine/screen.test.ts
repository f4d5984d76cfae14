import { describe, expect, it } from 'vitest';
import { createMachine, type StateValue } from 'xstate';
import { currentScreenMeta } from '../../src/engine/screen.js';
import type { LoadedFlow } from '../../src/engine/flow-loader.js';
import type { ScreenMeta } from '../../src/engine/types.js';

/**
 * The current screen read from a state value (no actor, no resolved snapshot) against the same question asked
 * of a resolved snapshot's meta, on a machine with nested, parallel and custom-id states (the shipped flows
 * have none yet).
 */

const machine = createMachine({
  id: 'f',
  initial: 'menu',
  states: {
    menu: { meta: { prompt: 'p.menu' } },
    wizard: {
      initial: 'step1',
      meta: { prompt: 'p.wizard' },
      states: {
        step1: { meta: { prompt: 'p.step1' } },
        step2: { id: 'second', meta: { prompt: 'p.step2' } },
        busy: {},
      },
    },
    split: {
      type: 'parallel',
      states: {
        left: { initial: 'ask', states: { ask: { meta: { prompt: 'p.left' } }, done: {} } },
        right: { initial: 'idle', states: { idle: {} } },
      },
    },
    plain: {},
  },
});

const screens = new Map<string, ScreenMeta>();
const walk = (node: { id: string; meta?: unknown; states: Record<string, unknown> }) => {
  if (node.meta) screens.set(node.id, node.meta as ScreenMeta);
  for (const child of Object.values(node.states)) walk(child as never);
};
walk(machine.root as never);
const flow = { id: 'f', file: 'f.yaml', version: 'v', definition: {} as never, machine, screens } as LoadedFlow;

/**
 * The answer as it was computed before: among the snapshot's meta, the active node with a prompt and the longest
 * id (the deepest while ids are the default dotted paths; not with a custom id, see below).
 */
function fromSnapshot(value: StateValue) {
  let best: { id: string; meta: ScreenMeta } | undefined;
  for (const id of Object.keys(machine.resolveState({ value, context: {} }).getMeta())) {
    const meta = screens.get(id);
    if (meta?.prompt && (!best || id.length > best.id.length)) best = { id, meta };
  }
  return best;
}

describe('currentScreenMeta from a state value', () => {
  it('should name the screen a resolved snapshot names, for flat, nested and parallel states, and the deepest one for a custom id', () => {
    const values: StateValue[] = [
      'menu',
      'plain',
      { wizard: 'step1' },
      { wizard: 'busy' },
      { split: { left: 'ask', right: 'idle' } },
      { split: { left: 'done', right: 'idle' } },
    ];
    for (const value of values) {
      // Twice: computed, then from the cache.
      for (let i = 0; i < 2; i++) expect(currentScreenMeta(flow, { value }), JSON.stringify(value)).toEqual(fromSnapshot(value));
    }
    // A custom id shorter than its parent's: still the deeper screen (the length rule named the parent).
    expect(currentScreenMeta(flow, { value: { wizard: 'step2' } })?.id).toBe('second');
    expect(fromSnapshot({ wizard: 'step2' })?.id).toBe('f.wizard');
    expect(currentScreenMeta(flow, { value: { wizard: 'busy' } })?.id).toBe('f.wizard');
    expect(currentScreenMeta(flow, { value: 'plain' })).toBeUndefined();
  });
});
