import type { AnyStateMachine } from 'xstate';
import type { CheckContext } from './flow-check.js';
import { loadFlows, type LoadedFlow, type MachineFactory } from './flow-loader.js';
import { createFlowSetup, type Implementations } from './registry.js';
import type { FlowSource } from './turn-runner.js';
import type { Translator } from '../text/i18n.js';

/**
 * The flows a process serves. Keeps every version it has loaded, so a session restored under an older
 * version finishes on it while new sessions get the current one.
 */
export class FlowRegistry implements FlowSource {
  private readonly currentById = new Map<string, LoadedFlow>();
  private readonly byVersion = new Map<string, LoadedFlow>();

  constructor(flows: Map<string, LoadedFlow>) {
    this.install(flows);
  }

  /** Makes `flows` the current versions (older versions stay available to sessions in flight). */
  install(flows: Map<string, LoadedFlow>): void {
    for (const flow of flows.values()) {
      this.currentById.set(flow.id, flow);
      this.byVersion.set(`${flow.id}@${flow.version}`, flow);
    }
  }

  current(id: string): LoadedFlow | undefined {
    return this.currentById.get(id);
  }

  version(id: string, version: string): LoadedFlow | undefined {
    return this.byVersion.get(`${id}@${version}`);
  }

  ids(): string[] {
    return [...this.currentById.keys()];
  }
}

/** The names and keys a flow may reference, from the registry's implementations and the locales. */
export function checkContextFor(impl: Implementations, translator: Translator): CheckContext {
  return {
    actions: new Set(Object.keys(impl.actions)),
    guards: new Set(Object.keys(impl.guards)),
    actors: new Set(Object.keys(impl.actors)),
    languages: [...translator.languages],
    hasKey: (lang, key) => translator.has(lang, key),
  };
}

/** Loads and checks every flow in `dir` against these implementations; throws FlowLoadError. */
export async function loadFlowRegistry(dir: string, impl: Implementations, translator: Translator): Promise<FlowRegistry> {
  return new FlowRegistry(await loadFlows(dir, checkContextFor(impl, translator), machineFactory(impl)));
}

/** Builds machines from checked flow configs with the registry's setup(). */
export function machineFactory(impl: Implementations): MachineFactory {
  const setup = createFlowSetup(impl);
  // Flow configs are data checked by the loader, so the machine is typed loosely from here on.
  return (config) => setup.createMachine(config as never) as unknown as AnyStateMachine;
}
