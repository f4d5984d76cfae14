import { describe, expect, it } from 'vitest';
import { createImplementations, FLOW_ERROR_CODES, FLOW_MANIFESTS } from '../../src/engine/registry.js';
import { declaredViewVars, entriesOf, worstCase } from '../../src/engine/manifest.js';
import { createLogger } from '../../src/logger.js';

/** Implementations on dependencies that are never called: only their names are compared. */
const impl = () => createImplementations({ fineract: {} as never, pins: {} as never, logger: createLogger('silent') });

describe('registry manifests', () => {
  it('should declare a manifest for every action, guard and actor, and nothing more', () => {
    const built = impl();
    expect(Object.keys(FLOW_MANIFESTS.actions).sort()).toEqual(Object.keys(built.actions).sort());
    expect(Object.keys(FLOW_MANIFESTS.guards).sort()).toEqual(Object.keys(built.guards).sort());
    expect(Object.keys(FLOW_MANIFESTS.actors).sort()).toEqual(Object.keys(built.actors).sort());
  });

  it('should keep the error codes one closed list, and actors reject only with codes of it', () => {
    expect(new Set(FLOW_ERROR_CODES).size).toBe(FLOW_ERROR_CODES.length);
    for (const { name, manifest } of entriesOf(FLOW_MANIFESTS)) {
      for (const code of manifest.errors ?? []) expect(FLOW_ERROR_CODES as readonly string[], `${name}: ${code}`).toContain(code);
    }
    const errorIs = FLOW_MANIFESTS.guards.errorIs!.params!;
    expect(errorIs.safeParse({ code: 'pin-wrong' }).success).toBe(true);
    expect(errorIs.safeParse({ code: 'pin-wrnog' }).success).toBe(false);
    expect(errorIs.safeParse({ code: 'pin-wrong', extra: 1 }).success).toBe(false);
  });

  it('should give every view variable a worst case of exactly its longest length', () => {
    const vars = declaredViewVars(FLOW_MANIFESTS);
    expect(Object.keys(vars)).toEqual(
      expect.arrayContaining(['name', 'amount', 'attemptsLeft', 'counterparty', 'minutes', 'option', 'balance']),
    );
    for (const [name, spec] of Object.entries(vars)) expect(worstCase(name, vars), name).toHaveLength(spec.max);
  });
});
