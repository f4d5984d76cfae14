import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { matchKeyword } from '../../src/engine/keywords.js';
import { formatIssue, parseFlow } from '../../src/engine/flow-loader.js';
import { checkContextFor } from '../../src/engine/flow-check.js';
import type { CheckContext } from '../../src/engine/flow-check.js';
import { createTranslator } from '../../src/text/i18n.js';
import type { Keyword } from '../../src/engine/types.js';

const KEYWORDS: Keyword[] = [
  {
    event: 'BALANCE',
    words: { en: ['BAL', 'BALANCE'], sw: ['SALIO', 'BAL'], fr: ['SOLDE', 'BAL'] },
    args: ['pin'],
    usage: 'sms.usage.balance',
  },
  { event: 'STATEMENT', words: { en: ['MINI', 'MINI STATEMENT'], fr: ['RELEVÉ'] }, args: ['pin'] },
  { event: 'HELP', words: { en: ['HELP'], sw: ['MSAADA'], fr: ['AIDE'] } },
  { event: 'LANGUAGE', words: { en: ['LANG'], sw: ['LUGHA'] }, args: ['lang'] },
];
const LANGS = ['en', 'sw', 'fr'];
const match = (text: string, lang = 'en') => matchKeyword(KEYWORDS, text, lang, LANGS);

describe('matchKeyword', () => {
  it('should match case-insensitively, with extra spaces, tabs, line breaks and a trailing full stop', () => {
    for (const text of ['BAL 1234', 'bal 1234', '  Bal\t 1234 ', 'BAL\n1234', 'bal 1234.', 'BALANCE 1234']) {
      expect(match(text)).toEqual({ kind: 'event', event: { type: 'BALANCE', pin: '1234' } });
    }
  });

  it('should prefer the longest word, and accept accented words typed in any case', () => {
    expect(match('mini statement 123456')).toEqual({ kind: 'event', event: { type: 'STATEMENT', pin: '123456' } });
    expect(match('MINI 1234')).toEqual({ kind: 'event', event: { type: 'STATEMENT', pin: '1234' } });
    expect(match('relevé 1234')).toMatchObject({ kind: 'event', event: { type: 'STATEMENT' }, lang: 'fr' });
  });

  it('should ask for the usage when the arguments do not fit, without keeping them', () => {
    for (const text of ['BAL', 'BAL 12', 'BAL 1234567', 'BAL 12a4', 'BAL 1234 1234', 'LANG DE', 'LANG']) {
      const m = match(text);
      expect(m.kind).toBe('usage');
      expect(JSON.stringify(m)).not.toMatch(/\d{2}/);
    }
    expect(match('BAL 12')).toEqual({ kind: 'usage', event: 'BALANCE', usage: 'sms.usage.balance' });
  });

  it('should not match another word, a word inside a word, or an empty or overlong message', () => {
    for (const text of ['', '   ', 'BALX 1234', 'HELLO', '1234', 'B AL 1234', `HELP ${'x'.repeat(200)}`])
      expect(match(text).kind).toBe('none');
  });

  it("should answer in the word's language only when the customer's language does not have the word", () => {
    expect(match('SALIO 1234', 'en')).toEqual({ kind: 'event', event: { type: 'BALANCE', pin: '1234' }, lang: 'sw' });
    expect(match('SALIO 1234', 'sw')).toEqual({ kind: 'event', event: { type: 'BALANCE', pin: '1234' } });
    expect(match('BAL 1234', 'fr')).toEqual({ kind: 'event', event: { type: 'BALANCE', pin: '1234' } });
    expect(match('BAL 1234', 'sw')).toEqual({ kind: 'event', event: { type: 'BALANCE', pin: '1234' } });
    expect(match('lugha en', 'en')).toEqual({ kind: 'event', event: { type: 'LANGUAGE', lang: 'en' }, lang: 'sw' });
    expect(match('LANG Sw', 'en')).toEqual({ kind: 'event', event: { type: 'LANGUAGE', lang: 'sw' } });
  });
});

const FLOW = (keywords: string, on = 'BALANCE: done') => `
id: texts
channels: [sms]
machine:
  initial: command
  states:
    command:
      meta:
        prompt: sms.help
        keywords:
${keywords}
      on: { ${on} }
    done: { type: final, meta: { prompt: balance.title } }
`;

let ctx: CheckContext;
beforeAll(async () => {
  ctx = checkContextFor(await createTranslator({ dir: resolve('locales'), fallback: 'en' }));
});
const issues = (source: string) => parseFlow('flows/texts.yaml', source, ctx).issues.map(formatIssue);

describe('keywords in a flow file', () => {
  it('should accept keywords whose events the state handles', () => {
    expect(
      issues(FLOW('          - { event: BALANCE, words: { en: [BAL], sw: [SALIO] }, args: [pin], usage: sms.usage.balance }')),
    ).toEqual([]);
  });

  it('should refuse an event the state does not handle, naming the file and the line', () => {
    expect(
      issues(FLOW('          - { event: BALANCE, words: { en: [BAL] } }\n          - { event: STATEMENT, words: { en: [MINI] } }')),
    ).toEqual([
      "flows/texts.yaml:12 machine.states.command.meta.keywords.1.event: event 'STATEMENT' is not handled by this state (add it to 'on')",
    ]);
  });

  it('should refuse an unknown language, a word used by two events, a repeated argument, a missing usage text and bad words', () => {
    const got = issues(
      FLOW(
        [
          '          - { event: BALANCE, words: { en: [BAL], de: [KONTO] }, args: [pin, pin], usage: sms.usage.nope }',
          '          - { event: HELP, words: { en: [bal] } }',
        ].join('\n'),
        'BALANCE: done, HELP: done',
      ),
    );
    expect(got).toEqual([
      "flows/texts.yaml:11 machine.states.command.meta.keywords.0.usage: keyword usage 'sms.usage.nope' is missing in locale 'en'",
      "flows/texts.yaml:11 machine.states.command.meta.keywords.0.usage: keyword usage 'sms.usage.nope' is missing in locale 'fr'",
      "flows/texts.yaml:11 machine.states.command.meta.keywords.0.usage: keyword usage 'sms.usage.nope' is missing in locale 'sw'",
      "flows/texts.yaml:11 machine.states.command.meta.keywords.0.args.1: argument 'pin' is taken twice (each kind is sent once, as event.pin)",
      "flows/texts.yaml:11 machine.states.command.meta.keywords.0.words.de: language 'de' has no locale (known: en, fr, sw)",
      "flows/texts.yaml:12 machine.states.command.meta.keywords.1.words.en.0: word 'bal' already sends BALANCE on this screen",
    ]);
    expect(issues(FLOW('          - { event: BALANCE, words: { en: ["BAL-1"] }, args: [secret] }'))).toEqual([
      expect.stringMatching(/^flows\/texts\.yaml:11 machine\.states\.command\.meta\.keywords\.0\.words\.en\.0: must be letters and digits/),
      expect.stringMatching(/^flows\/texts\.yaml:11 machine\.states\.command\.meta\.keywords\.0\.args\.0: /),
    ]);
  });

  it('should refuse keywords on a final state', () => {
    const final = `
id: texts
channels: [sms]
machine:
  initial: done
  states:
    done: { type: final, meta: { prompt: balance.title, keywords: [{ event: HELP, words: { en: [HELP] } }] } }
`;
    expect(issues(final)).toContain('flows/texts.yaml:7 machine.states.done.meta: a final state ends the session and cannot take input');
  });
});

describe('docs/flows.md', () => {
  it('should teach SMS keywords with a flow that lints clean against the shipped locales', async () => {
    const { readFileSync } = await import('node:fs');
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { lint } = await import('../../src/authoring/lint.js');
    const { formatLintMessage } = await import('../../src/authoring/lint-report.js');
    const doc = readFileSync('docs/flows.md', 'utf8');
    const flow = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => /^id: /m.test(b) && /keywords:/.test(b));
    expect(flow).toBeDefined();
    const dir = await mkdtemp(join(tmpdir(), 'kiunga-sms-docs-'));
    try {
      await writeFile(join(dir, 'texts.yaml'), flow!);
      const report = await lint({ flowsDir: dir, localesDir: resolve('locales'), fallback: 'en' });
      expect(
        report.messages.filter((m) => m.file.endsWith('texts.yaml') || m.message.includes('texts.yaml')).map(formatLintMessage),
      ).toEqual([]);
      expect(report.flows).toEqual(['texts']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
