import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lint } from '../../src/authoring/lint.js';
import { readFineractProducts } from '../../src/authoring/lint-catalogue.js';
import type { LintMessage } from '../../src/authoring/lint-report.js';
import { runAuthoringCommand } from '../../src/authoring/cli.js';
import { loadConfig } from '../../src/config.js';

const catalogueMessages = (messages: LintMessage[]) => messages.filter((m) => m.rule === 'catalogue' || m.rule === 'catalogue-product');

describe('kiunga lint: the product catalogue', () => {
  let dir: string;
  let shipped: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiunga-catalogue-lint-'));
    await cp('flows', dir, { recursive: true });
    shipped = await readFile(join(dir, 'catalogue.yaml'), 'utf8');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const lintWith = async (source: string, products?: Awaited<ReturnType<typeof readFineractProducts>>) => {
    await writeFile(join(dir, 'catalogue.yaml'), source);
    const report = await lint({ flowsDir: dir, localesDir: 'locales', fallback: 'en', ...(products ? { products } : {}) });
    return catalogueMessages(report.messages);
  };

  it('offline, passes the shipped catalogue and refuses a broken one with its line', async () => {
    expect(await lintWith(shipped)).toEqual([]);
    const broken = shipped.replace('repayments: [3, 6, 12]', 'repayments: [3, 6, 6]');
    const line = broken.split('\n').findIndex((l) => l.includes('repayments: [3, 6, 6]')) + 1;
    expect(await lintWith(broken)).toEqual([
      expect.objectContaining({ severity: 'error', rule: 'catalogue', line, where: 'loanProducts.0.repayments' }),
    ]);
  });

  it('offline, warns about a shown product without a display name in a language', async () => {
    const messages = await lintWith(
      shipped.replace('displayName: { en: Akiba Savings, sw: Akiba, fr: Epargne Akiba }', 'displayName: { en: Akiba Savings }'),
    );
    expect(messages.map((m) => `${m.severity} ${m.where}: ${m.message}`)).toEqual([
      "warning savingsProducts.0.displayName: no display name in 'fr': the en one is shown",
      "warning savingsProducts.0.displayName: no display name in 'sw': the en one is shown",
    ]);
  });

  it('offline, refuses a display name outside GSM-7', async () => {
    const messages = await lintWith(shipped.replace('fr: Pret Biashara', 'fr: Prêt Biashara'));
    expect(messages).toEqual([]);
    const report = await lint({ flowsDir: dir, localesDir: 'locales', fallback: 'en' });
    expect(report.messages.filter((m) => m.rule === 'non-gsm' && m.file.endsWith('catalogue.yaml'))).toEqual([
      expect.objectContaining({
        severity: 'error',
        where: 'loanProducts.0.displayName.fr',
        message: '"ê" is not in the GSM-7 alphabet: write "e" instead',
      }),
    ]);
  });

  it("with the sandbox's demo products, reports a range outside the product's own and a product Fineract lacks", async () => {
    const products = await readFineractProducts(loadConfig({}));
    expect(products.loan.map((p) => p.name)).toEqual(['Biashara Loan', 'Asset Finance']);
    expect(await lintWith(shipped, products)).toEqual([]);
    const wide = shipped
      .replace('amount: { min: 5000, max: 50000 }', 'amount: { min: 5000, max: 80000 }')
      .replace('  - id: 1\n    name: Akiba Savings', '  - id: 7\n    name: Akiba Savings');
    expect((await lintWith(wide, products)).map((m) => `${m.severity} ${m.rule} ${m.where}: ${m.message}`)).toEqual([
      'error catalogue-product savingsProducts.0.id: savings product 7 (Akiba Savings) does not exist in Fineract',
      "error catalogue-product loanProducts.0.amount.max: amount max 80000.00 is above the product's own range (5000.00 to 50000.00)",
    ]);
    // Offline the same file passes: the ranges need Fineract's products.
    expect(await lintWith(wide)).toEqual([]);
  });

  it('kiunga lint --fineract prints the catalogue-product errors', async () => {
    await writeFile(join(dir, 'catalogue.yaml'), shipped.replace('repayments: [3, 6, 12]', 'repayments: [3, 6, 24]'));
    const out: string[] = [];
    const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s), env: {} };
    const code = await runAuthoringCommand('lint', [dir, '--fineract'], io);
    expect(code).toBe(1);
    expect(
      out
        .join('')
        .split('\n')
        .filter((l) => l.includes('[catalogue-product]')),
    ).toEqual([
      expect.stringMatching(
        /catalogue\.yaml:\d+ error loanProducts\.0\.repayments\.2: 24 repayments is outside the product's own range \(3 to 12\) \[catalogue-product\]$/,
      ),
    ]);
    out.length = 0;
    await runAuthoringCommand('lint', [dir], io);
    expect(out.join('')).not.toContain('[catalogue-product]');
  });
});
