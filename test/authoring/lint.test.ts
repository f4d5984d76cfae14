import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lint } from '../../src/authoring/lint.js';
import { formatLintMessage, type LintReport } from '../../src/authoring/lint-report.js';
import { runAuthoringCommand } from '../../src/authoring/cli.js';

const FIXTURES = 'test/authoring/fixtures';

/** Lints one fixture: its flow, with its own locales when it has some, else the shared ones. */
async function lintFixture(name: string, extra: Partial<Parameters<typeof lint>[0]> = {}): Promise<LintReport> {
  const own = join(FIXTURES, name, 'locales');
  return lint({ flowsDir: join(FIXTURES, name), localesDir: existsSync(own) ? own : join(FIXTURES, 'locales'), fallback: 'en', ...extra });
}

const lines = (r: LintReport, severity?: 'error' | 'warning') =>
  r.messages.filter((m) => !severity || m.severity === severity).map(formatLintMessage);

describe('kiunga lint', () => {
  it('should pass the shipped flows and locales without errors or warnings', async () => {
    const report = await lint({ flowsDir: 'flows', localesDir: 'locales', fallback: 'en' });
    expect(lines(report)).toEqual([]);
    expect(report.flows).toContain('banking');
    expect(report.languages).toEqual(['en', 'fr', 'sw']);
  });

  it('should pass the clean fixture every broken one is made from', async () => {
    expect(lines(await lintFixture('clean'))).toEqual([]);
  });

  // Each broken fixture yields exactly one message: its own, naming the file, the line and the path.
  const broken: [string, 'error' | 'warning', RegExp][] = [
    [
      'unknown-guard',
      'error',
      /^test\/authoring\/fixtures\/unknown-guard\/flow\.yaml:13 error machine\.states\.identify\.invoke\.onError\.0\.guard: guard 'errorIz' is not implemented \(known: .*errorIs.*\) \[reference\]$/,
    ],
    [
      'missing-target',
      'error',
      /^test\/authoring\/fixtures\/missing-target\/flow\.yaml:32 error machine\.states\.help\.on\.BALANCE: target 'balanse' does not exist \[reference\]$/,
    ],
    [
      'unreachable',
      'error',
      /^test\/authoring\/fixtures\/unreachable\/flow\.yaml:40 error machine\.states\.goodbye: unreachable: no transition leads to 'goodbye' from the start of the flow \[unreachable\]$/,
    ],
    [
      'dead-end',
      'error',
      /^test\/authoring\/fixtures\/dead-end\/flow\.yaml:28 error machine\.states\.help: dead end: this state waits for nothing the customer can send .*\[dead-end\]$/,
    ],
    [
      'no-way-out',
      'error',
      /^test\/authoring\/fixtures\/no-way-out\/flow\.yaml:28 error machine\.states\.help: no way out: 'help', 'helpAgain' only lead to each other and never to a final state \[no-way-out\]$/,
    ],
    [
      'no-way-back',
      'warning',
      /^test\/authoring\/fixtures\/no-way-back\/flow\.yaml:29 warning machine\.states\.help\.meta: menu without a way back: it is a checkpoint .*\[no-way-back\]$/,
    ],
    [
      'missing-french',
      'error',
      /^test\/authoring\/fixtures\/missing-french\/flow\.yaml:29 error machine\.states\.help\.meta\.prompt: prompt 'help\.text' is missing in locale 'fr' \[locale-missing\]$/,
    ],
    [
      'french-too-long',
      'error',
      /^test\/authoring\/fixtures\/locales\/fr\.json:6 error menu\.long: ussd screen of machine\.states\.menu \(test\/authoring\/fixtures\/french-too-long\/flow\.yaml:21\) in 'fr': the screen is 213 septets with its options, so it is paged; the prompt alone \(under the notice 'Choix invalide\.'\) with '98\. Suite' then needs 206, more than 182: the question would be split across pages \[screen-budget\]$/,
    ],
    [
      'non-gsm',
      'error',
      /^test\/authoring\/fixtures\/non-gsm\/locales\/fr\.json:10 error help\.text: "’" \(U\+2019\) is not in the GSM-7 alphabet: write "'" instead .*\[non-gsm\]$/,
    ],
    [
      'unknown-variable',
      'error',
      /^test\/authoring\/fixtures\/unknown-variable\/locales\/fr\.json:3 error pin\.ask: variable '\{\{nom\}\}' is not declared: .*manifest.*\[unknown-variable\]$/,
    ],
    [
      'unknown-error-code',
      'error',
      /^test\/authoring\/fixtures\/unknown-error-code\/flow\.yaml:13 error machine\.states\.identify\.invoke\.onError\.0\.guard\.params\.code: guard 'errorIs': 'unregisterd' is not an error code actors reject with \(did you mean 'unregistered'\? known: .*\) \[unknown-error-code\]$/,
    ],
    [
      'undeclared-flag',
      'error',
      /^test\/authoring\/fixtures\/undeclared-flag\/flow\.yaml:25 error machine\.states\.menu\.meta\.options\.1\.if: flag 'hasLaon' is never set: no action sets it \(did you mean 'hasLoan'\? known: .*\) \[undeclared-flag\]$/,
    ],
    [
      'param-type',
      'error',
      /^test\/authoring\/fixtures\/param-type\/flow\.yaml:13 error machine\.states\.identify\.invoke\.onError\.0\.guard\.params\.code: guard 'errorIs' params\.code: 404 is a number, not an error code \[param-type\]$/,
    ],
    [
      'unset-variable',
      'error',
      /^test\/authoring\/fixtures\/unset-variable\/flow\.yaml:16 error machine\.states\.pin\.meta\.prompt: 'pin\.ask' uses \{\{name\}\} \(en, fr\), which this screen never has: only greet sets it, and this flow never runs it \[unset-variable\]$/,
    ],
    ['locale-syntax', 'error', /^test\/authoring\/fixtures\/locale-syntax\/locales\/fr\.json:8 error: syntax error: .*\[locale-syntax\]$/],
    [
      'step-up',
      'error',
      /^test\/authoring\/fixtures\/step-up\/flow\.yaml:42 error machine\.states\.transferring\.invoke\.onError: actor 'transferMoney' may send a one-time code and reject with code-required: branch on it .*\[step-up\]$/,
    ],
  ];

  for (const [fixture, severity, expected] of broken) {
    it(`should report ${fixture} with its own precise ${severity}`, async () => {
      const report = await lintFixture(fixture);
      const all = lines(report);
      expect(all).toHaveLength(1);
      expect(all[0]).toMatch(expected);
      expect(report.messages[0]!.severity).toBe(severity);
    });
  }

  it('should pass a step-up whose code is collected and checked, and refuse a code prompt that leads elsewhere (threat T31)', async () => {
    const source = await readFile(join(FIXTURES, 'step-up', 'flow.yaml'), 'utf8');
    const withCode = (into: string) =>
      source.replace(
        '          - { target: failed }',
        '          - { guard: { type: errorIs, params: { code: code-required } }, target: code }\n          - { target: failed }',
      ) +
      `    code:\n      meta: { prompt: pay.code, input: code }\n      on: { INPUT: ${into} }\n` +
      `    checkingCode:\n      invoke: { src: transferWithCode, onDone: { target: paid, actions: rememberReceipt }, onError: failed }\n`;
    const lintSource = async (flow: string) => {
      const dir = await mkdtemp(join(tmpdir(), 'kiunga-step-up-'));
      await writeFile(join(dir, 'flow.yaml'), flow);
      return lint({ flowsDir: dir, localesDir: join(FIXTURES, 'step-up', 'locales'), fallback: 'en' });
    };
    expect(lines(await lintSource(withCode('checkingCode')))).toEqual([]);
    // The code typed would reach transferMoney as a PIN: refused.
    const astray = (await lintSource(withCode('transferring'))).messages;
    expect(astray.filter((m) => m.rule === 'step-up').map((m) => [m.severity, m.where, m.message])).toEqual([
      [
        'error',
        'machine.states.code.on.INPUT',
        expect.stringMatching(
          /^a code prompt must lead into an actor that checks the code \(.*transferWithCode.*\), and 'transferring' invokes 'transferMoney'$/,
        ),
      ],
    ]);
  });

  it('should pass the French prompt that is too long in English, where it fits', async () => {
    const report = await lintFixture('french-too-long');
    expect(report.messages.every((m) => !/in 'en'/.test(m.message))).toBe(true);
  });

  it('should apply a configured screen limit and the SMS budget', async () => {
    const narrow = await lintFixture('clean', { limits: { 'GSM-7': 50, 'UCS-2': 25 } });
    const text = lines(narrow, 'error');
    expect(text).toContain(
      "test/authoring/fixtures/locales/en.json:11 error balance.title: ussd screen of machine.states.showBalance (test/authoring/fixtures/clean/flow.yaml:36) in 'en': the list screen with one row needs 56 septets, more than 50: not even one row would show [screen-budget]",
    );
    expect(text).toContain(
      "test/authoring/fixtures/locales/fr.json:14 error error.unavailable: ussd screen of machine.states.unavailable (test/authoring/fixtures/clean/flow.yaml:39) in 'fr': the screen ends the session with 51 septets, more than 50: the lines that do not fit would be cut [screen-budget]",
    );
    expect(text.join('\n')).toMatch(
      /en\.json:3 error pin\.ask: .* in 'en': the screen is 60 septets, so it is paged; the prompt alone \(under the notice 'Invalid input\.'\) with '98\. More' then needs 69/,
    );
    const sms = await lintFixture('french-too-long', { smsSegments: 1 });
    expect(lines(sms, 'error').join('\n')).toMatch(
      /fr\.json:6 error menu\.long: sms screen of machine\.states\.menu .* in 'fr': the SMS reply needs 2 segments \(\d+ septets\), more than 1 \[sms-budget\]/,
    );
  });
});

describe('kiunga lint on the command line', () => {
  const run = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await runAuthoringCommand('lint', args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
    return { code, out, err };
  };

  it('should exit 0 on the shipped flows and print a summary', async () => {
    const r = await run([]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kiunga lint: 0 errors, 0 warnings in \d+ flows? and 3 locales$/m);
  });

  it('should exit 1 with file:line messages on errors, and 0 on warnings only', async () => {
    const bad = await run([join(FIXTURES, 'unreachable'), '--locales', join(FIXTURES, 'locales')]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/unreachable\/flow\.yaml:40 error machine\.states\.goodbye: unreachable/);
    const warned = await run([join(FIXTURES, 'no-way-back'), '--locales', join(FIXTURES, 'locales')]);
    expect(warned.code).toBe(0);
    expect(warned.out).toMatch(/0 errors, 1 warning/);
  });

  it('should name a directory that does not exist', async () => {
    const r = await run(['test/authoring/fixtures/nope']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kiunga lint: no such directory or file: ${resolve('test/authoring/fixtures/nope')}\n`);
  });

  it('should refuse an unknown option with the usage', async () => {
    const r = await run(['--nope']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/usage: kiunga lint/);
  });
});
