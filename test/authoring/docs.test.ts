import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { lint } from '../../src/authoring/lint.js';
import { runConversationTests } from '../../src/authoring/conversation-tests.js';
import { testFileSchema } from '../../src/authoring/conversation-test-files.js';
import { formatLintMessage, LINT_RULES } from '../../src/authoring/lint-report.js';
import { withRegistryReference } from '../../src/authoring/registry-docs.js';

/** docs/flows.md teaches by example: its examples must keep working. */
const doc = readFileSync('docs/flows.md', 'utf8');
const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiunga-docs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docs/flows.md', () => {
  it('should teach with a complete flow that lints clean against the shipped locales', async () => {
    const flow = blocks.find((b) => /^id: /m.test(b))!;
    expect(flow).toBeDefined();
    const flows = join(dir, 'example');
    await mkdir(flows);
    await writeFile(join(flows, 'savings.yaml'), flow);
    const report = await lint({ flowsDir: flows, localesDir: resolve('locales'), fallback: 'en' });
    expect(report.messages.map(formatLintMessage)).toEqual([]);
    expect(report.flows).toEqual(['savings']);
  });

  it('should show conversation tests that pass on the shipped flow', async () => {
    const cases = blocks.find((b) => /^- name: /m.test(b))!;
    expect(testFileSchema.safeParse(parse(cases)).success).toBe(true);
    const flows = join(dir, 'tests');
    await mkdir(flows);
    await copyFile('flows/banking.yaml', join(flows, 'banking.yaml'));
    await writeFile(join(flows, 'banking.test.yaml'), cases);
    const report = await runConversationTests({ flowsDir: flows, localesDir: resolve('locales') });
    expect(report.results.map((r) => [r.name, r.passed, r.failure?.problems])).toEqual([
      ['balance', true, undefined],
      ['Fineract down while paying', true, undefined],
      ['inactive client', true, undefined],
    ]);
  });

  it('should document every lint rule the linter can report', () => {
    const source = ['lint', 'lint-catalogue', 'lint-graph', 'lint-text', 'screen-budget']
      .map((f) => readFileSync(`src/authoring/${f}.ts`, 'utf8'))
      .join('');
    const rules = new Set([...source.matchAll(/rule: '([a-z-]+)'/g), ...source.matchAll(/return '([a-z-]+)';/g)].map((m) => m[1]!));
    rules.add('sms-budget');
    for (const rule of LINT_RULES) rules.add(rule);
    for (const rule of rules) expect(doc).toContain(`| \`${rule}\` |`);
  });

  it('should list the names a flow may use as the manifests declare them (regenerate: npx tsx src/main.ts schema --docs)', () => {
    expect(doc).toBe(withRegistryReference(doc));
    expect(doc).toContain('| `errorIs` |');
    expect(doc).toContain('flags `hasAccount`, `hasOwnAccounts`, `hasLoan`');
  });
});
