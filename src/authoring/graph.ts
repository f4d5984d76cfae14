import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { buildTree, resolveTarget, type NodeInfo } from '../engine/flow-check.js';
import { isFlowFileName, parseFlowSource } from '../engine/flow-loader.js';
import type { FlowFile, TransitionConfig } from '../engine/flow-schema.js';
import type { ScreenMeta } from '../engine/types.js';
import { createTranslator, type Translator } from '../text/i18n.js';
import { parse as parseCommandArgs, UsageError, type CliIo } from './cli-args.js';
import { describeGuard } from './flow-graph.js';

/**
 * `kiunga graph <flow>`: the statechart as an author reads it. Each state shows its prompt in the chosen
 * locale (variables as ‹name›); each arrow says what causes it: the key pressed and its label, the input
 * typed, an actor succeeding (✓) or failing (✗, with the error code its guard tests), an eventless step.
 * Mermaid (stateDiagram-v2, rendered by GitHub, GitLab and mermaid.live), Graphviz DOT, or SVG through
 * Graphviz `dot` when it is installed (no browser, no network).
 */

interface Edge {
  from: string;
  to: string;
  label: string;
}

interface Drawing {
  flow: FlowFile;
  root: NodeInfo;
  nodes: NodeInfo[];
  edges: Edge[];
  text: (node: NodeInfo) => string[];
  kind: (node: NodeInfo) => 'screen' | 'final' | 'step' | 'group';
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const MAX_TEXT = 64;

/** A template with `{{name}}` shown as ‹name›, cut to a readable length. */
function readable(template: string): string {
  const text = template.replace(/\{\{\s*-?\s*([^}\s,]+)[^}]*\}\}/g, '‹$1›');
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

function prepare(flow: FlowFile, tr: Translator, lang: string): Drawing {
  const { root, ids, all } = buildTree(flow);
  const say = (key: string) => readable(tr.template(lang, key) ?? tr.template(tr.fallback, key) ?? key);
  const idOf = (n: NodeInfo) => (n === root ? '' : n.path.join('__'));
  const edges: Edge[] = [];
  const add = (from: NodeInfo, t: TransitionConfig | undefined, cause: string) => {
    for (const tr of asArray(t)) {
      const obj = typeof tr === 'string' ? { target: tr } : tr;
      const guard = typeof tr === 'string' || !tr.guard ? '' : guardText(describeGuard(tr.guard));
      for (const target of asArray(obj.target)) {
        const to = resolveTarget(from, target, ids);
        if (to) edges.push({ from: idOf(from), to: idOf(to), label: [cause, guard].filter(Boolean).join(' ') });
      }
    }
  };
  for (const node of [root, ...all]) {
    const meta = node.config.meta as ScreenMeta | undefined;
    for (const [event, t] of Object.entries(node.config.on ?? {})) {
      let cause = event;
      if (event === 'INPUT' && meta?.input)
        cause = meta.input === 'pin' ? 'PIN' : meta.input === 'code' ? 'code from the SMS' : `${meta.input} typed`;
      const options = (meta?.options ?? []).filter((o) => o.event === event);
      if (options.length > 0) cause = options.map((o) => `${o.key} ${say(o.label)}${o.if ? ` (if ${o.if})` : ''}`).join(' / ');
      else if (meta?.choose?.event === event) cause = `1…n ${say(meta.choose.item)}`;
      const keywords = (meta?.keywords ?? []).filter((k) => k.event === event);
      if (keywords.length > 0) {
        cause = keywords
          .map((k) => [(k.words[lang] ?? Object.values(k.words)[0] ?? []).join('/'), ...(k.args ?? []).map((a) => `‹${a}›`)].join(' '))
          .join(' / ');
      }
      if (node === root) continue; // machine-wide events are listed in the flow file, not drawn from every state
      add(node, t, cause);
    }
    if (node.config.always) add(node, node.config.always, '');
    if (node.config.invoke) {
      add(node, node.config.invoke.onDone, `${node.config.invoke.src} ✓`);
      add(node, node.config.invoke.onError, `${node.config.invoke.src} ✗`);
    }
  }
  const text = (node: NodeInfo): string[] => {
    const meta = node.config.meta as ScreenMeta | undefined;
    const lines: string[] = [];
    if (meta?.prompt) lines.push(...say(meta.prompt).split('\n'));
    if (meta?.list) lines.push(`+ rows: ${say(meta.list.item)}`);
    if (node.config.invoke) lines.push(`calls ${node.config.invoke.src}`);
    return lines;
  };
  const kind = (node: NodeInfo) =>
    node.children.size > 0 ? 'group' : node.config.type === 'final' ? 'final' : node.config.meta?.prompt ? 'screen' : 'step';
  return { flow, root, nodes: all, edges, text, kind };
}

/** `errorIs(code=pin-wrong)` reads as `[pin-wrong]`; other guards as they are. */
function guardText(guard: string): string {
  const m = /^errorIs\(code=(.+)\)$/.exec(guard);
  return `[${m ? m[1] : guard}]`;
}

// ---------------------------------------------------------------------------------------------------------
// Mermaid

/**
 * Text Mermaid takes after `:` in a state description or an arrow label: its lexer ends the text at a colon,
 * a semicolon or a line break (stateDiagram.jison, DESCR), so colons become the look-alike ∶ (U+2236).
 */
const mermaidText = (s: string) =>
  s
    .replace(/"/g, "'")
    .replace(/:/g, '∶')
    .replace(/;/g, ',')
    .replace(/#/g, 'No.')
    .replace(/[\r\n]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

export function toMermaid(flow: FlowFile, tr: Translator, lang: string): string {
  const d = prepare(flow, tr, lang);
  const out = [
    'stateDiagram-v2',
    `  %% ${[flow.id, flow.description].filter(Boolean).join(': ')} (prompts: ${lang})`.replace(/[\r\n]+/g, ' '),
  ];
  const id = (n: NodeInfo) => n.path.join('__');
  const declare = (node: NodeInfo, indent: string) => {
    if (node.children.size > 0) {
      out.push(`${indent}state ${id(node)} {`);
      const initial = node.config.initial ? node.children.get(node.config.initial) : undefined;
      if (initial) out.push(`${indent}  [*] --> ${id(initial)}`);
      for (const child of node.children.values()) declare(child, `${indent}  `);
      out.push(`${indent}}`);
      return;
    }
    const lines = d.text(node);
    if (node.key !== id(node)) out.push(`${indent}state "${mermaidText(node.key)}" as ${id(node)}`);
    for (const line of lines) out.push(`${indent}${id(node)} : ${mermaidText(line)}`);
    if (lines.length === 0) out.push(`${indent}${id(node)}`);
    // [*] inside a composite state is that state's own end.
    if (d.kind(node) === 'final') out.push(`${indent}${id(node)} --> [*]`);
  };
  const initial = flow.machine.initial ? d.root.children.get(flow.machine.initial) : undefined;
  if (initial) out.push(`  [*] --> ${id(initial)}`);
  for (const child of d.root.children.values()) declare(child, '  ');
  for (const e of d.edges) out.push(`  ${e.from} --> ${e.to}${e.label ? ` : ${mermaidText(e.label)}` : ''}`);
  const byKind = (k: string) => d.nodes.filter((n) => d.kind(n) === k).map(id);
  out.push(
    '  classDef screen fill:#e8f1ff,stroke:#3b6fb6',
    '  classDef step fill:#f4f4f4,stroke:#999,font-style:italic',
    '  classDef final fill:#eaf7ea,stroke:#3c8d40',
  );
  for (const k of ['screen', 'step', 'final']) {
    const members = byKind(k);
    if (members.length > 0) out.push(`  class ${members.join(',')} ${k}`);
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Graphviz DOT

const dotString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export function toDot(flow: FlowFile, tr: Translator, lang: string): string {
  const d = prepare(flow, tr, lang);
  const id = (n: NodeInfo) => n.path.join('__');
  const out = [
    `digraph ${dotString(flow.id)} {`,
    '  rankdir=TB; node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=9];',
    `  label=${dotString(`${flow.id} (${lang})`)}; labelloc=t;`,
    '  __start [shape=point, width=0.15];',
  ];
  const declare = (node: NodeInfo, indent: string) => {
    if (node.children.size > 0) {
      out.push(`${indent}subgraph ${dotString(`cluster_${id(node)}`)} {`, `${indent}  label=${dotString(node.key)};`);
      for (const child of node.children.values()) declare(child, `${indent}  `);
      out.push(`${indent}}`);
      return;
    }
    const k = d.kind(node);
    const shape =
      k === 'screen'
        ? 'box, style="rounded,filled", fillcolor="#e8f1ff"'
        : k === 'final'
          ? 'box, style="rounded,filled", fillcolor="#eaf7ea", peripheries=2'
          : 'ellipse, style=dashed';
    const label = [node.key, ...d.text(node)].join('\n');
    out.push(`${indent}${dotString(id(node))} [shape=${shape}, label=${dotString(label)}];`);
  };
  for (const child of d.root.children.values()) declare(child, '  ');
  const first = (n: NodeInfo): NodeInfo => {
    const next = n.config.initial ? n.children.get(n.config.initial) : undefined;
    return next ? first(next) : n;
  };
  const initial = flow.machine.initial ? d.root.children.get(flow.machine.initial) : undefined;
  if (initial) out.push(`  __start -> ${dotString(id(first(initial)))};`);
  const leafOf = new Map(d.nodes.map((n) => [id(n), first(n)]));
  for (const e of d.edges) {
    const from = leafOf.get(e.from);
    const to = leafOf.get(e.to);
    if (!from || !to) continue;
    out.push(`  ${dotString(id(from))} -> ${dotString(id(to))}${e.label ? ` [label=${dotString(e.label)}]` : ''};`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** SVG through Graphviz `dot`; throws when `dot` is not installed. */
export function toSvg(dot: string, command = 'dot'): string {
  const run = spawnSync(command, ['-Tsvg'], { input: dot, encoding: 'utf8', timeout: 20_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new GraphvizMissing();
  }
  if (run.status !== 0) throw new Error(`dot failed: ${run.stderr || run.error?.message}`);
  return run.stdout;
}

export class GraphvizMissing extends Error {
  constructor() {
    super(
      "SVG needs Graphviz 'dot' on the PATH, which is not installed here (apt-get install graphviz). " +
        'Use --format mermaid (paste into https://mermaid.live or any Markdown on GitHub/GitLab) or --format dot.',
    );
    this.name = 'GraphvizMissing';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Command

/** Finds a flow by id (or file path) in the flows directory. */
export async function findFlow(flowsDir: string, wanted: string): Promise<{ flow: FlowFile; file: string } | { error: string }> {
  const names = (await readdir(flowsDir)).filter(isFlowFileName).sort();
  const known: string[] = [];
  for (const name of names) {
    const path = join(flowsDir, name);
    const file = relative(process.cwd(), path) || name;
    const parsed = parseFlowSource(file, await readFile(path, 'utf8'));
    if (!parsed.flow) {
      if (name === wanted || path === resolve(wanted)) return { error: `${file} does not parse: kiunga lint shows why` };
      continue;
    }
    known.push(parsed.flow.id);
    if (parsed.flow.id === wanted || name === wanted || path === resolve(wanted)) return { flow: parsed.flow, file };
  }
  return { error: `no flow '${wanted}' in ${relative(process.cwd(), flowsDir) || flowsDir} (flows: ${known.join(', ') || 'none'})` };
}

export async function graphCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    lang: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    flows: { type: 'string' },
    locales: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('name one flow (its id, e.g. banking)');
  const format = values.format ?? 'mermaid';
  if (!['mermaid', 'dot', 'svg'].includes(format)) throw new UsageError(`unknown format '${format}' (mermaid, dot or svg)`);
  const config = loadConfig(io.env);
  const found = await findFlow(resolve(values.flows ?? config.flowsDir), positionals[0]!);
  if ('error' in found) {
    io.stderr(`kiunga graph: ${found.error}\n`);
    return 1;
  }
  const tr = await createTranslator({ dir: resolve(values.locales ?? config.localesDir), fallback: config.defaultLanguage });
  const lang = values.lang ?? config.defaultLanguage;
  if (!tr.languages.includes(lang)) throw new UsageError(`no locale '${lang}' (locales: ${tr.languages.join(', ')})`);
  let text: string;
  try {
    text =
      format === 'mermaid'
        ? toMermaid(found.flow, tr, lang)
        : format === 'dot'
          ? toDot(found.flow, tr, lang)
          : toSvg(toDot(found.flow, tr, lang));
  } catch (error) {
    if (!(error instanceof GraphvizMissing)) throw error;
    io.stderr(`kiunga graph: ${error.message}\n`);
    return 1;
  }
  if (values.out) {
    await writeFile(values.out, text);
    io.stderr(`kiunga graph: wrote ${values.out}\n`);
  } else io.stdout(text);
  return 0;
}
