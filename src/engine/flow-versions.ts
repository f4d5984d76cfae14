import { createHash } from 'node:crypto';
import type { AnyStateMachine } from 'xstate';
import { checkContextFor } from './flow-check.js';
import { loadFlows, type LoadedFlow, type MachineFactory } from './flow-loader.js';
import { createFlowSetup, type Implementations } from './registry.js';
import type { FlowSource } from './turn-types.js';
import type { Translator } from '../text/i18n.js';

/**
 * The flows a process serves. Keeps the versions it replaced for `retainMs` (longer than any session may
 * last), so a session restored under an older version finishes on it while new sessions get the current
 * one; after that the old version is dropped, and a session still naming it restarts cleanly.
 */
export class FlowVersions implements FlowSource {
  private readonly currentById = new Map<string, LoadedFlow>();
  private readonly byVersion = new Map<string, LoadedFlow>();
  /** When each replaced version stopped being current. */
  private readonly retiredAt = new Map<string, number>();

  constructor(
    flows: Map<string, LoadedFlow>,
    private readonly retainMs = 2 * 3600_000,
    private readonly now: () => number = Date.now,
  ) {
    this.install(flows);
  }

  /** Makes `flows` the current versions; replaced ones stay available to sessions in flight for a while. */
  install(flows: Map<string, LoadedFlow>): void {
    const t = this.now();
    for (const flow of flows.values()) {
      const previous = this.currentById.get(flow.id);
      const key = `${flow.id}@${flow.version}`;
      if (previous && previous.version !== flow.version) this.retiredAt.set(`${previous.id}@${previous.version}`, t);
      this.retiredAt.delete(key);
      this.currentById.set(flow.id, flow);
      this.byVersion.set(key, flow);
    }
    for (const [key, at] of this.retiredAt) {
      if (t - at > this.retainMs) {
        this.byVersion.delete(key);
        this.retiredAt.delete(key);
      }
    }
  }

  /** How many versions are kept (current and retired). */
  size(): number {
    return this.byVersion.size;
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

/**
 * Loads and checks every flow in `dir`, each bound to `translator`: its version covers the flow source and
 * the prompts, so a locale edit makes a new version and sessions in flight keep the texts they began with.
 * Throws FlowLoadError.
 */
export async function loadFlowSet(dir: string, impl: Implementations, translator: Translator): Promise<Map<string, LoadedFlow>> {
  const flows = await loadFlows(dir, checkContextFor(translator), machineFactory(impl));
  const prompts = translatorFingerprint(translator);
  return new Map(
    [...flows].map(([id, flow]) => [
      id,
      { ...flow, translator, version: createHash('sha256').update(`${flow.version}:${prompts}`).digest('hex').slice(0, 12) },
    ]),
  );
}

/** A content hash of every language, key and template of a translator (stable across processes). */
export function translatorFingerprint(translator: Translator): string {
  const hash = createHash('sha256');
  for (const lang of [...translator.languages].sort()) {
    hash.update(`\u0000${lang}`);
    for (const key of translator.keys(lang)) hash.update(`\u0001${key}\u0002${translator.template(lang, key) ?? ''}`);
  }
  return hash.digest('hex').slice(0, 12);
}

/** Loads and checks every flow in `dir` against these implementations; throws FlowLoadError. */
export async function loadFlowVersions(dir: string, impl: Implementations, translator: Translator): Promise<FlowVersions> {
  return new FlowVersions(await loadFlowSet(dir, impl, translator));
}

/** Builds machines from checked flow configs with the registry's setup(). */
export function machineFactory(impl: Implementations): MachineFactory {
  const setup = createFlowSetup(impl);
  // Flow configs are data checked by the loader, so the machine is typed loosely from here on.
  return (config) => setup.createMachine(config as never) as unknown as AnyStateMachine;
}
