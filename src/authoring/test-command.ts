import { resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { createTranslator } from '../text/i18n.js';
import { buildFlowGraph } from './flow-graph.js';
import { parseFlowSource } from '../engine/flow-loader.js';
import { readFile } from 'node:fs/promises';
import { runConversationTests, type TestReport } from './conversation-tests.js';
import type { CaseResult } from './conversation-test-case.js';
import { generateCases } from './conversation-test-generator.js';
import { parse as parseCommandArgs, UsageError, type CliIo } from './cli-args.js';

/** `kiunga test [dir] [--locales dir] [--generate] [--case name] [--strict]` */
export async function testCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    locales: { type: 'string' },
    generate: { type: 'boolean' },
    case: { type: 'string' },
    strict: { type: 'boolean' },
  });
  if (positionals.length > 1) throw new UsageError('at most one flows directory');
  const config = loadConfig(io.env);
  const flowsDir = resolve(positionals[0] ?? config.flowsDir);
  const localesDir = resolve(values.locales ?? config.localesDir);
  const report = await runConversationTests({ flowsDir, localesDir, base: config, only: values.case });
  io.stdout(formatReport(report));
  if (values.generate) {
    const translator = await createTranslator({ dir: localesDir, fallback: config.defaultLanguage });
    for (const c of report.coverage) {
      if (c.unreached.length === 0) continue;
      const parsed = parseFlowSource(c.file, await readFile(resolve(c.file), 'utf8'));
      if (!parsed.flow) continue;
      io.stdout(`\n# Shortest paths to the states of '${c.flowId}' no case reaches; paste into flows/${c.flowId}.test.yaml and adjust.\n`);
      io.stdout(generateCases(buildFlowGraph(parsed.flow), c.unreached, translator, config.defaultLanguage));
    }
  }
  const failed = report.results.filter((r) => !r.passed).length;
  const gaps = report.coverage.some((c) => c.unreached.length > 0);
  return failed > 0 || report.problems.length > 0 || (values.strict && gaps) ? 1 : 0;
}

/** The human report: one line per case, the screen of each failure, then coverage per flow. */
export function formatReport(report: TestReport): string {
  const out: string[] = [];
  for (const p of report.problems) out.push(`${p}`);
  let file = '';
  for (const r of report.results) {
    if (r.file !== file) {
      file = r.file;
      out.push(file);
    }
    out.push(
      r.passed
        ? `  ok    ${r.name} (${r.hops} hop${r.hops === 1 ? '' : 's'}, ${r.ms} ms)${r.stubbed.length ? ` [stubs: ${r.stubbed.join(', ')}]` : ''}`
        : failureText(r),
    );
  }
  for (const c of report.coverage) {
    const n = c.states.length - c.unreached.length;
    out.push(`coverage ${c.flowId}: ${n}/${c.states.length} states reached`);
    if (c.unreached.length > 0) out.push(`  not reached: ${c.unreached.join(', ')}  (kiunga test --generate proposes cases)`);
    if (c.stubbedOnly.length > 0) out.push(`  reached only with stubbed actors: ${c.stubbedOnly.join(', ')}`);
  }
  const passed = report.results.filter((r) => r.passed).length;
  const failed = report.results.length - passed;
  const unreached = report.coverage.reduce((n, c) => n + c.unreached.length, 0);
  out.push(
    `kiunga test: ${passed} passed, ${failed} failed${report.problems.length ? `, ${report.problems.length} broken test file entries` : ''}; ` +
      `${unreached === 0 ? 'every state reached' : `${unreached} state${unreached === 1 ? '' : 's'} not reached`}`,
  );
  return `${out.join('\n')}\n`;
}

function failureText(r: CaseResult): string {
  const f = r.failure!;
  const lines = [
    `  FAIL  ${r.name}${r.line ? ` (${r.file}:${r.line})` : ''}: hop ${f.hop}, send ${f.send === null ? 'dial' : JSON.stringify(f.send)}`,
  ];
  for (const p of f.problems) lines.push(`        ${p}`);
  if (f.screen) {
    lines.push(`        screen (${f.screen.end ? 'END' : 'CON'}${f.state ? `, state ${f.state}` : ''}):`);
    for (const l of f.screen.text.split('\n')) lines.push(`        | ${l}`);
  }
  return lines.join('\n');
}
