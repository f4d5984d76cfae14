import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { AnyStateMachine } from 'xstate';
import { flowFileSchema, type FlowFile, type StateNodeConfig } from './flow-schema.js';
import { checkFlow, type CheckContext, type FlowProblem } from './flow-check.js';
import type { FlowContext, ScreenMeta } from './types.js';
import type { FlowInput } from './registry.js';
import type { Translator } from '../text/i18n.js';
import { CATALOGUE_FILE_NAME } from './catalogue.js';
import { parseYamlSource, schemaIssue } from './yaml-source.js';

/**
 * Reads flow files (YAML or JSON), validates them against the schema, cross-checks every name and key,
 * and builds the XState machines. A broken flow is refused with messages naming the file, the line and the
 * path inside it.
 */

export interface LoadedFlow {
  id: string;
  file: string;
  /** Content hash; a session restored under another version restarts cleanly. */
  version: string;
  definition: FlowFile;
  machine: AnyStateMachine;
  /** Screen metadata by XState state node id (e.g. `banking.menu`). */
  screens: Map<string, ScreenMeta>;
  /** State node id of the home screen, if the flow declares one. */
  homeId?: string;
  /**
   * The prompts this version was checked against. Set by `loadFlowSet` (flow-versions.ts), whose version then
   * covers the locales too, so a session in flight keeps rendering with the texts it began with.
   */
  translator?: Translator;
}

/** A problem of one flow file, located: its rule id, the file, the line and the path inside it. */
export type FlowIssue = FlowProblem & {
  file: string;
  line?: number;
};

/** Thrown when one or more flow files are broken; `issues` lists every problem. */
export class FlowLoadError extends Error {
  constructor(readonly issues: FlowIssue[]) {
    super(`flow files refused:\n  ${issues.map(formatIssueWithRule).join('\n  ')}`);
    this.name = 'FlowLoadError';
  }
}

/** `flows/banking.yaml:12 machine.states.menu.on.BALANCE: target 'balanse' does not exist` */
export function formatIssue(issue: FlowIssue): string {
  const where = issue.path.length > 0 ? ` ${issue.path.join('.')}` : '';
  return `${issue.file}${issue.line ? `:${issue.line}` : ''}${where}: ${issue.message}`;
}

/** formatIssue with the rule id, as `kiunga lint` ends its messages: `… does not exist [reference]` */
export const formatIssueWithRule = (issue: FlowIssue): string => `${formatIssue(issue)} [${issue.rule}]`;

/** Builds the machine for a checked flow; `setup` is the registry's setup() result. */
export type MachineFactory = (config: Record<string, unknown>) => AnyStateMachine;

/** A flow file parsed against the schema, before cross-checks; `lineOf` maps a path to its line. */
export interface ParsedFlowSource {
  flow?: FlowFile;
  issues: FlowIssue[];
  lineOf(path: (string | number)[]): number | undefined;
}

/** Parses one flow file's source and validates it against the schema (no cross-checks; never throws). */
export function parseFlowSource(file: string, source: string): ParsedFlowSource {
  const yaml = parseYamlSource(source);
  if (!yaml.ok) {
    return {
      lineOf: () => undefined,
      issues: yaml.errors.map((e) => ({ file, path: [], line: e.line, rule: 'syntax' as const, message: e.message })),
    };
  }
  const { lineOf } = yaml;
  const parsed = flowFileSchema.safeParse(yaml.value);
  if (!parsed.success) {
    return {
      lineOf,
      issues: parsed.error.issues.map((i) => {
        const { path, message } = schemaIssue(i);
        return { file, path, line: lineOf(path), rule: 'flow-check' as const, message };
      }),
    };
  }
  return { flow: parsed.data, issues: [], lineOf };
}

/** Parses and checks one flow file's source. Returns the flow or its problems (never throws). */
export function parseFlow(
  file: string,
  source: string,
  ctx: CheckContext,
): { flow: FlowFile; issues: [] } | { flow?: undefined; issues: FlowIssue[] } {
  const parsed = parseFlowSource(file, source);
  if (!parsed.flow) return { issues: parsed.issues };
  const problems = checkFlow(parsed.flow, ctx);
  if (problems.length > 0) return { issues: problems.map((p) => ({ ...p, file, line: parsed.lineOf(p.path) })) };
  return { flow: parsed.flow, issues: [] };
}

/** Turns a checked flow into machine config: actor inputs wired, prompt states tagged for the runner. */
function toMachineConfig(flow: FlowFile): Record<string, unknown> {
  const convert = (node: StateNodeConfig): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...node };
    if (node.meta?.prompt) out.tags = [...(node.tags ?? []), 'prompt'];
    if (node.invoke) {
      out.invoke = {
        ...node.invoke,
        // Actors receive the context and the event that entered the state (e.g. the PIN typed), which is
        // never copied into the context and so never persisted.
        input: ({ context, event }: { context: FlowContext; event: unknown }) => ({ context, event }),
      };
    }
    if (node.states) out.states = Object.fromEntries(Object.entries(node.states).map(([k, v]) => [k, convert(v)]));
    return out;
  };
  return {
    id: flow.id,
    initial: flow.machine.initial,
    on: flow.machine.on,
    states: Object.fromEntries(Object.entries(flow.machine.states).map(([k, v]) => [k, convert(v)])),
    context: ({ input }: { input: FlowInput }): FlowContext => ({
      channel: input.channel,
      session: input.session,
      msisdn: input.msisdn,
      lang: input.lang,
      view: {},
      data: {},
    }),
  };
}

/** Collects screen metadata by state node id. */
function collectScreens(flow: FlowFile): Map<string, ScreenMeta> {
  const screens = new Map<string, ScreenMeta>();
  const walk = (states: Record<string, StateNodeConfig>, prefix: string) => {
    for (const [key, node] of Object.entries(states)) {
      const id = node.id ?? `${prefix}.${key}`;
      if (node.meta) screens.set(id, node.meta as ScreenMeta);
      if (node.states) walk(node.states, id);
    }
  };
  walk(flow.machine.states, flow.id);
  return screens;
}

/** Builds a LoadedFlow from a checked definition. */
export function buildFlow(file: string, source: string, flow: FlowFile, factory: MachineFactory): LoadedFlow {
  const machine = factory(toMachineConfig(flow));
  const homeNode = flow.home ? machine.root.states[flow.home] : undefined;
  return {
    id: flow.id,
    file,
    version: createHash('sha256').update(source).digest('hex').slice(0, 12),
    definition: flow,
    machine,
    screens: collectScreens(flow),
    homeId: homeNode?.id,
  };
}

/** A flow file in a flows directory: YAML or JSON, neither a conversation test nor the product catalogue. */
export function isFlowFileName(name: string): boolean {
  return /\.(ya?ml|json)$/.test(name) && !/\.test\.ya?ml$/.test(name) && name !== CATALOGUE_FILE_NAME;
}

/** Loads every `*.yaml|*.yml|*.json` flow in `dir` (test files `*.test.yaml` excepted); throws FlowLoadError. */
export async function loadFlows(dir: string, ctx: CheckContext, factory: MachineFactory): Promise<Map<string, LoadedFlow>> {
  const names = (await readdir(dir)).filter(isFlowFileName).sort();
  const flows = new Map<string, LoadedFlow>();
  const sources = new Map<string, string>();
  const issues: FlowIssue[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const file = relative(process.cwd(), path) || name;
    const source = await readFile(path, 'utf8');
    const result = parseFlow(file, source, ctx);
    if (!result.flow) {
      issues.push(...result.issues);
      continue;
    }
    if (flows.has(result.flow.id)) {
      issues.push({
        file,
        path: ['id'],
        rule: 'flow-check',
        message: `flow id '${result.flow.id}' is already used by ${flows.get(result.flow.id)?.file}`,
      });
      continue;
    }
    flows.set(result.flow.id, buildFlow(file, source, result.flow, factory));
    sources.set(result.flow.id, source);
  }
  issues.push(...overlappingRoutes(flows, sources));
  if (issues.length > 0) throw new FlowLoadError(issues);
  if (flows.size === 0) throw new FlowLoadError([{ file: dir, path: [], rule: 'flow-check', message: 'no flow files found' }]);
  return flows;
}

/**
 * Two flows claiming the same thing: the catch-all of one channel (no `serviceCodes`), or one service code on a
 * channel both serve. Which would answer must never depend on file names, so the set is refused.
 */
function overlappingRoutes(flows: Map<string, LoadedFlow>, sources: Map<string, string>): FlowIssue[] {
  const claimed = new Map<string, LoadedFlow>();
  const issues: FlowIssue[] = [];
  for (const flow of [...flows.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const { channels, serviceCodes } = flow.definition;
    for (const channel of channels) {
      const claims = serviceCodes ? serviceCodes.map((code) => `${channel} ${code}`) : [`${channel} (every code no other flow names)`];
      for (const claim of claims) {
        const earlier = claimed.get(claim);
        if (earlier) {
          const path = [serviceCodes ? 'serviceCodes' : 'channels'];
          issues.push({
            file: flow.file,
            path,
            line: parseFlowSource(flow.file, sources.get(flow.id) ?? '').lineOf(path),
            rule: 'flow-check',
            message: `flow '${flow.id}' answers ${claim}, as flow '${earlier.id}' (${earlier.file}) already does: give one of them its own serviceCodes`,
          });
        } else claimed.set(claim, flow);
      }
    }
  }
  return issues;
}
