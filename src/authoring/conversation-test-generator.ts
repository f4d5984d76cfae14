import type { Translator } from '../text/i18n.js';
import { shortestPaths, type FlowGraph, type Step } from './flow-graph.js';

/**
 * `kiunga test --generate`: YAML test cases proposed for the states no case reaches, each by a shortest path
 * through the flow's graph, with the steps it needs noted as comments.
 */

const SAMPLE_INPUT: Record<string, string> = { pin: '1234', code: '123456', digits: '1', amount: '100', phone: '0711000002', text: 'text' };

/** The start of a prompt's text, up to its first variable: something a screen surely contains. */
export function promptExcerpt(translator: Translator, lang: string, key: string | undefined): string | undefined {
  if (!key) return undefined;
  const template = translator.template(lang, key) ?? translator.template(translator.fallback, key);
  let head = template?.split('{{')[0]?.split('\n')[0]?.trim() ?? '';
  if (head.length > 40) head = head.slice(0, 41).replace(/\s+\S*$/, '');
  head = head.replace(/[\s.:,;(]+$/, '');
  return head.length >= 3 ? head : undefined;
}

const quote = (s: string) => JSON.stringify(s);

/** YAML test cases (with comments on what each step needs) reaching each state in `targets` by a shortest path. */
export function generateCases(graph: FlowGraph, targets: string[], translator: Translator, lang: string): string {
  const paths = shortestPaths(graph);
  const leafOf = (id: string) => [...paths.keys()].find((leaf) => leaf === id || leaf.startsWith(`${id}.`));
  const out: string[] = [];
  const chosen = new Map<string, Step[]>();
  for (const target of targets) {
    const leaf = leafOf(target);
    if (leaf) chosen.set(target, paths.get(leaf)!);
    else out.push(`# ${target}: no path reaches it from the start of the flow (see kiunga lint)`);
  }
  // A state passed on the way to another generated case needs no case of its own.
  const passed = (path: Step[]) => new Set(path.flatMap((s) => s.to.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))));
  for (const [target, path] of [...chosen]) {
    const elsewhere = [...chosen].some(([other, p]) => other !== target && p.length > path.length && passed(p).has(target));
    if (elsewhere) chosen.delete(target);
  }
  for (const [target, path] of chosen) {
    const hops = groupHops(path);
    out.push(
      `- name: reach ${target}`,
      `  lang: ${lang}`,
      `  msisdn: "+254711000001"   # a customer for whom every step below happens`,
      '  hops:',
    );
    for (const hop of hops) {
      for (const note of hop.notes) out.push(`    # ${note}`);
      const rest = graph.states.get(hop.restsIn);
      const excerpt = promptExcerpt(translator, lang, rest?.screen?.meta.prompt);
      const send = hop.send === null ? 'null' : quote(hop.send);
      const end = rest?.final ? ', end: true' : '';
      const state = rest?.resting ? `, state: ${hop.restsIn}` : '';
      out.push(`    - { send: ${send}, expect: [${excerpt ? quote(excerpt) : ''}]${end}${state} }`);
    }
  }
  return `${out.join('\n')}\n`;
}

interface GeneratedHop {
  send: string | null;
  notes: string[];
  restsIn: string;
}

/** Splits a path into hops: each customer step starts one, followed by the steps that happen by themselves. */
function groupHops(path: Step[]): GeneratedHop[] {
  const hops: GeneratedHop[] = [];
  for (const step of path) {
    const t = step.trigger;
    const guard = step.guard ? ` when ${step.guard}` : '';
    if (t.kind === 'dial' || t.kind === 'option' || t.kind === 'choose' || t.kind === 'input' || t.kind === 'keyword') {
      const send =
        t.kind === 'dial'
          ? null
          : t.kind === 'option'
            ? t.key
            : t.kind === 'choose'
              ? '1'
              : t.kind === 'keyword'
                ? [t.word, ...t.args.map((a) => SAMPLE_INPUT[a] ?? (a === 'lang' ? 'sw' : a))].join(' ')
                : (SAMPLE_INPUT[t.input] ?? 'text');
      const notes =
        t.kind === 'option' && t.if
          ? [`option ${t.key} shows only while data.${t.if} is true`]
          : t.kind === 'input'
            ? [`${t.input} input: adjust the value`]
            : [];
      hops.push({ send, notes: step.guard ? [...notes, `takes '${step.to}'${guard}`] : notes, restsIn: step.to });
      continue;
    }
    const hop = hops[hops.length - 1]!;
    const what = t.kind === 'done' ? `${t.actor} succeeds` : t.kind === 'error' ? `${t.actor} fails` : 'eventless step';
    hop.notes.push(`${step.from} -> ${step.to}: ${what}${guard}`);
    hop.restsIn = step.to;
  }
  return hops;
}
