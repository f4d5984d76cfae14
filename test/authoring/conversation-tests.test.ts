import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runConversationTests } from '../../src/authoring/conversation-tests.js';
import { testFileSchema } from '../../src/authoring/conversation-test-files.js';
import { generateCases } from '../../src/authoring/conversation-test-generator.js';
import { buildFlowGraph } from '../../src/authoring/flow-graph.js';
import { runAuthoringCommand } from '../../src/authoring/cli.js';
import { parseFlowSource } from '../../src/engine/flow-loader.js';
import { createTranslator } from '../../src/text/i18n.js';
import { readFileSync } from 'node:fs';

const LOCALES = resolve('locales');
let dir: string;

/** A flows directory with the shipped banking flow and the given test file. */
async function withTests(yaml: string): Promise<string> {
  await writeFile(join(dir, 'banking.test.yaml'), yaml);
  return dir;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiunga-convtests-'));
  await copyFile('flows/banking.yaml', join(dir, 'banking.yaml'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = async (args: string[]) => {
  let out = '';
  let err = '';
  const code = await runAuthoringCommand('test', args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
  return { code, out, err };
};

describe('kiunga test', () => {
  it('should pass every shipped case and reach every state of the shipped flows', async () => {
    const report = await runConversationTests({ flowsDir: resolve('flows'), localesDir: LOCALES });
    expect(report.problems).toEqual([]);
    const failed = report.results.filter((r) => !r.passed);
    expect(failed.map((r) => `${r.name}: ${JSON.stringify(r.failure)}`)).toEqual([]);
    expect(report.results.length).toBeGreaterThanOrEqual(15);
    const banking = report.coverage.find((c) => c.flowId === 'banking')!;
    expect(banking.unreached).toEqual([]);
    // Transient states (invokes) count too, not only the screens a session rests on.
    for (const id of ['identify', 'checkingPin', 'balance', 'transferring']) expect(banking.reached.has(id)).toBe(true);
    // Every shipped case runs on its own fresh server: over a hundred cases take longer than the default 30 s.
  }, 180_000);

  it('should report a failing hop with the screen the customer saw, and exit 1', async () => {
    const flows = await withTests(`
- name: wrong expectation
  lang: en
  msisdn: "+254711000001"
  hops:
    - { send: null, expect: ["Welcome Amina"] }
    - { send: "1234", expect: ["Main manu"], absent: ["1. Balance"] }
`);
    const r = await cli([flows, '--locales', LOCALES]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL  wrong expectation');
    expect(r.out).toMatch(/banking\.test\.yaml:2\): hop 2, send "1234"/);
    expect(r.out).toContain('expected the screen to contain "Main manu"');
    expect(r.out).toContain('expected the screen not to contain "1. Balance"');
    expect(r.out).toContain('screen (CON, state menu):\n        | Main menu\n        | 1. Balance');
    expect(r.out).toMatch(/kiunga test: 0 passed, 1 failed/);
  });

  it('should check END, the resting state, and give every case a fresh sandbox', async () => {
    const flows = await withTests(`
- name: spend
  lang: en
  msisdn: "+254711000001"
  hops:
    - { send: null, expect: [] }
    - { send: "1234", expect: [] }
    - { send: "3", expect: [] }
    - { send: "0711000002", expect: [] }
    - { send: "9000", expect: [] }
    - { send: "1234", expect: ["Done"], end: true, state: transferDone }
- name: balance untouched by the previous case
  lang: en
  msisdn: "+254711000001"
  hops:
    - { send: null, expect: [] }
    - { send: "1234", expect: [] }
    - { send: "1", expect: ["KES 12,500.00"], end: true }
- name: ends unexpectedly
  lang: en
  msisdn: "+254711000009"
  stubs: { startSignup: { reject: unregistered } }
  hops:
    - { send: null, expect: [], state: pin }
`);
    const report = await runConversationTests({ flowsDir: flows, localesDir: LOCALES });
    expect(report.results.map((r) => [r.name, r.passed])).toEqual([
      ['spend', true],
      ['balance untouched by the previous case', true],
      ['ends unexpectedly', false],
    ]);
    expect(report.results[2]!.failure!.problems).toEqual([
      'expected the session to go on (CON), but it ended',
      "expected to rest in state 'pin', but it rests in 'unregistered'",
    ]);
  });

  it('should list unreached states and generate shortest-path cases that pass once pasted', async () => {
    const flows = await withTests(`
- name: only the balance
  lang: en
  msisdn: "+254711000001"
  hops:
    - { send: null, expect: [] }
    - { send: "1234", expect: [] }
    - { send: "1", expect: [], end: true }
`);
    const r = await cli([flows, '--locales', LOCALES, '--generate']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/coverage banking: \d+\/\d+ states reached\n {2}not reached: pinRetry, statement, showStatement, language/);
    expect(r.out).toMatch(/kiunga test: 1 passed, 0 failed; \d+ states not reached/);
    const generated = r.out.slice(r.out.indexOf('\n- name: reach'));
    const cases = testFileSchema.parse(parse(generated));
    const names = cases.map((c) => c.name);
    expect(names).toContain('reach showStatement');
    expect(names).not.toContain('reach statement'); // passed on the way to showStatement
    expect(generated).toContain('# checkingPin -> pinRetry: verifyPin fails when errorIs(code=pin-wrong)');
    expect(generated).toContain('# option 3 shows only while data.hasAccount is true');
    // The happy paths work as generated (Amina, PIN 1234).
    const happy = cases.filter((c) => ['reach showStatement', 'reach language', 'reach transferDone'].includes(c.name));
    expect(happy).toHaveLength(3);
    await withTests(JSON.stringify(happy));
    const rerun = await runConversationTests({ flowsDir: flows, localesDir: LOCALES });
    expect(rerun.results.map((x) => [x.name, x.passed, x.failure?.problems])).toEqual(happy.map((c) => [c.name, true, undefined]));
    expect((await cli([flows, '--locales', LOCALES, '--strict'])).code).toBe(1);
  });

  it('should refuse a broken test file with file, line and path', async () => {
    const flows = await withTests(`
- name: no dial first
  msisdn: "0711000001"
  hops:
    - { send: "1234", expect: [] }
`);
    const report = await runConversationTests({ flowsDir: flows, localesDir: LOCALES });
    expect(report.results).toEqual([]);
    expect(report.problems.join('\n')).toMatch(/banking\.test\.yaml:3 0\.msisdn: must be an E\.164 number/);
    const second = await withTests(`
- name: no dial first
  msisdn: "+254711000001"
  hops:
    - { send: "1234", expect: [] }
`);
    const r = await runConversationTests({ flowsDir: second, localesDir: LOCALES });
    expect(r.problems.join('\n')).toMatch(/banking\.test\.yaml:5 0\.hops\.0\.send: the first hop must dial \(send: null\)/);
  });

  it('should refuse a stub rejecting with an error code no actor has (the closed set)', async () => {
    const flows = await withTests(`
- name: misspelt code
  msisdn: "+254711000001"
  stubs: { findCustomer: { reject: inactiv } }
  hops:
    - { send: null, expect: [] }
`);
    const report = await runConversationTests({ flowsDir: flows, localesDir: LOCALES });
    expect(report.results).toEqual([]);
    expect(report.problems.join('\n')).toMatch(/banking\.test\.yaml:4 0\.stubs\.findCustomer/);
  });

  it('should generate nothing for states no path reaches', async () => {
    const source = readFileSync('test/authoring/fixtures/unreachable/flow.yaml', 'utf8');
    const flow = parseFlowSource('flow.yaml', source).flow!;
    const tr = await createTranslator({ dir: 'test/authoring/fixtures/locales', fallback: 'en' });
    expect(generateCases(buildFlowGraph(flow), ['goodbye'], tr, 'en')).toBe(
      '# goodbye: no path reaches it from the start of the flow (see kiunga lint)\n',
    );
  });
});
