import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkCatalogueAgainstProducts,
  CatalogueError,
  loadCatalogue,
  loadCatalogueIfPresent,
  parseCatalogue,
  type Catalogue,
  type LoanProductTerms,
  type SavingsProductTerms,
} from '../../src/engine/catalogue.js';
import { isFlowFileName } from '../../src/engine/flow-loader.js';

const GOOD = `termsVersion: '2026-12'
currency: { code: KES, decimalPlaces: 2 }
savingsProducts:
  - id: 1
    name: Akiba Savings
    channels: [ussd, sms]
    displayName: { en: Akiba Savings, sw: Akiba }
  - id: 2
    name: Staff Savings
    channels: []
loanProducts:
  - id: 1
    name: Biashara Loan
    channels: [ussd]
    displayName: { en: Biashara Loan, sw: Mkopo wa Biashara }
    amount: { min: 5000, max: 50000 }
    repayments: [12, 3, 6]
    showRate: true
  - id: 2
    name: Asset Finance
    channels: []
`;

/** The sandbox's demo products (src/sandbox/demo-data.ts), as Fineract's GET /loanproducts gives them. */
const LOANS: LoanProductTerms[] = [
  {
    id: 1,
    name: 'Biashara Loan',
    currencyCode: 'KES',
    decimalPlaces: 2,
    minPrincipalMinor: 500_000,
    maxPrincipalMinor: 5_000_000,
    minNumberOfRepayments: 3,
    maxNumberOfRepayments: 12,
  },
  { id: 2, name: 'Asset Finance', currencyCode: 'KES', decimalPlaces: 2, minPrincipalMinor: 5_000_000, maxPrincipalMinor: 100_000_000 },
];
const SAVINGS: SavingsProductTerms[] = [
  { id: 1, name: 'Akiba Savings', currencyCode: 'KES' },
  { id: 2, name: 'Staff Savings', currencyCode: 'KES' },
];

function parsed(source: string): Catalogue {
  const { catalogue, issues } = parseCatalogue('catalogue.yaml', source);
  expect(issues).toEqual([]);
  return catalogue!;
}

describe('product catalogue', () => {
  it('parses the shown products per channel and language, amounts in minor units', () => {
    const c = parsed(GOOD);
    expect(c.termsVersion).toBe('2026-12');
    expect(c.loanProducts('ussd', 'sw')).toEqual([
      {
        productId: 1,
        displayName: 'Mkopo wa Biashara',
        currency: 'KES',
        minAmountMinor: 500_000,
        maxAmountMinor: 5_000_000,
        repayments: [3, 6, 12],
        showRate: true,
      },
    ]);
    // fr has no name of its own: the en one is used.
    expect(c.loanProduct(1, 'ussd', 'fr')?.displayName).toBe('Biashara Loan');
    expect(c.loanProducts('sms', 'en')).toEqual([]);
    expect(c.loanProduct(1, 'voice', 'en')).toBeUndefined();
    expect(c.savingsProducts('sms', 'en')).toEqual([{ productId: 1, displayName: 'Akiba Savings' }]);
  });

  it('hides a product no channel shows, and one it does not name', () => {
    const c = parsed(GOOD);
    expect(c.isHidden(1)).toBe(false);
    expect(c.isHidden(2)).toBe(true);
    expect(c.isHidden(2, 'savings')).toBe(true);
    expect(c.isHidden(99)).toBe(true);
    expect(c.shownProductIds('loan')).toEqual([1]);
    expect(c.shownProductIds('savings')).toEqual([1]);
  });

  it('the repository catalogue shows Biashara Loan and Akiba Savings and hides Asset Finance and Staff Savings', async () => {
    const c = await loadCatalogue(resolve('flows/catalogue.yaml'));
    for (const channel of ['ussd', 'sms', 'voice'] as const) {
      expect(c.loanProducts(channel, 'en').map((p) => p.displayName)).toEqual(['Biashara Loan']);
      expect(c.savingsProducts(channel, 'en').map((p) => p.displayName)).toEqual(['Akiba Savings']);
    }
    expect(c.isHidden(2, 'loan')).toBe(true);
    expect(c.isHidden(2, 'savings')).toBe(true);
    expect(checkCatalogueAgainstProducts(c, { loan: LOANS, savings: SAVINGS })).toEqual([]);
  });

  it('refuses bad data with the file, the line and the path', () => {
    const bad = GOOD.replace('repayments: [12, 3, 6]', 'repayments: [12, 12]').replace(
      '    name: Akiba Savings\n    channels: [ussd, sms]\n    displayName: { en: Akiba Savings, sw: Akiba }',
      '    name: Akiba Savings\n    channels: [ussd, telegram]',
    );
    const { catalogue, issues } = parseCatalogue('flows/catalogue.yaml', bad);
    expect(catalogue).toBeUndefined();
    const lines = issues.map((i) => `${i.file}:${i.line} ${i.path.join('.')}`);
    expect(lines).toContain('flows/catalogue.yaml:6 savingsProducts.0.channels.1');
    expect(lines).toContain('flows/catalogue.yaml:16 loanProducts.0.repayments');
  });

  it('refuses a shown loan product without terms, an unknown key, min above max, a product twice and a YAML error', () => {
    const cases: [string, string][] = [
      [GOOD.replace('    amount: { min: 5000, max: 50000 }\n', ''), 'loanProducts.0.amount'],
      [GOOD.replace('showRate: true', 'showRate: true\n    rate: 2.5'), 'loanProducts.0'],
      [GOOD.replace('min: 5000, max: 50000', 'min: 50000, max: 5000'), 'loanProducts.0.amount'],
      [GOOD.replace('  - id: 2\n    name: Asset Finance', '  - id: 1\n    name: Asset Finance'), 'loanProducts.1.id'],
      [
        GOOD.replace('displayName: { en: Biashara Loan, sw: Mkopo wa Biashara }', 'displayName: { sw: Mkopo wa Biashara }'),
        'loanProducts.0.displayName',
      ],
      [GOOD.replace("termsVersion: '2026-12'", "termsVersion: '2026-12"), ''],
      [GOOD.replace('min: 5000, max: 50000', 'min: 5000.005, max: 50000'), 'loanProducts.0.amount.min'],
    ];
    for (const [source, path] of cases) {
      const { catalogue, issues } = parseCatalogue('catalogue.yaml', source);
      expect(catalogue).toBeUndefined();
      expect(issues.map((i) => i.path.join('.'))).toContain(path);
      expect(issues.every((i) => i.line !== undefined && i.severity === 'error')).toBe(true);
    }
  });

  it('reports a range or a number of repayments outside the product, a missing product, another currency', () => {
    const wide = parsed(GOOD.replace('min: 5000, max: 50000', 'min: 1000, max: 60000').replace('[12, 3, 6]', '[2, 6, 24]'));
    const issues = checkCatalogueAgainstProducts(wide, { loan: LOANS, savings: SAVINGS });
    expect(issues.filter((i) => i.severity === 'error').map((i) => `${i.line} ${i.path.join('.')}: ${i.message}`)).toEqual([
      "16 loanProducts.0.amount.min: amount min 1000.00 is below the product's own range (5000.00 to 50000.00)",
      "16 loanProducts.0.amount.max: amount max 60000.00 is above the product's own range (5000.00 to 50000.00)",
      "17 loanProducts.0.repayments.0: 2 repayments is outside the product's own range (3 to 12)",
      "17 loanProducts.0.repayments.2: 24 repayments is outside the product's own range (3 to 12)",
    ]);

    const c = parsed(GOOD);
    const missing = checkCatalogueAgainstProducts(c, { loan: LOANS.slice(1), savings: SAVINGS.slice(1) });
    expect(missing.map((i) => `${i.severity} ${i.path.join('.')}`)).toEqual(['error savingsProducts.0.id', 'error loanProducts.0.id']);
    // A hidden product missing in Fineract shows nothing: a warning only.
    const hiddenMissing = checkCatalogueAgainstProducts(c, { loan: LOANS.slice(0, 1), savings: SAVINGS });
    expect(hiddenMissing.map((i) => `${i.severity} ${i.path.join('.')}`)).toEqual(['warning loanProducts.1.id']);
    const usd = checkCatalogueAgainstProducts(c, { loan: [{ ...LOANS[0]!, currencyCode: 'USD' }, LOANS[1]!], savings: SAVINGS });
    expect(usd.map((i) => `${i.severity} ${i.path.join('.')}`)).toEqual(['error loanProducts.0.id']);
    const closed = checkCatalogueAgainstProducts(c, { loan: [{ ...LOANS[0]!, active: false }, LOANS[1]!], savings: SAVINGS });
    expect(closed.map((i) => `${i.severity} ${i.path.join('.')}: ${i.message}`)).toEqual([
      'error loanProducts.0.id: loan product 1 (Biashara Loan) is not active in Fineract: it takes no new loans',
    ]);
    // A bound of zero is no bound for Fineract: nothing lies outside it.
    const unbounded = { ...LOANS[0]!, maxPrincipalMinor: 0, minNumberOfRepayments: 0, maxNumberOfRepayments: 0 };
    expect(checkCatalogueAgainstProducts(c, { loan: [unbounded, LOANS[1]!], savings: SAVINGS })).toEqual([]);
    const renamed = checkCatalogueAgainstProducts(c, { loan: [{ ...LOANS[0]!, name: 'Biashara' }, LOANS[1]!], savings: SAVINGS });
    expect(renamed.map((i) => `${i.severity} ${i.path.join('.')}`)).toEqual(['warning loanProducts.0.name']);
  });

  describe('files', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kiunga-catalogue-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('loadCatalogue throws every problem; loadCatalogueIfPresent gives null without a file', async () => {
      await writeFile(join(dir, 'catalogue.yaml'), GOOD.replace('decimalPlaces: 2', 'decimalPlaces: 9'));
      await expect(loadCatalogue(join(dir, 'catalogue.yaml'))).rejects.toBeInstanceOf(CatalogueError);
      await expect(loadCatalogue(join(dir, 'catalogue.yaml'))).rejects.toThrow(/catalogue\.yaml:2 error currency\.decimalPlaces/);
      expect(await loadCatalogueIfPresent(join(dir, 'none.yaml'))).toBeNull();
    });

    it('is not a flow file for the loader, lint and graph', () => {
      expect(isFlowFileName('catalogue.yaml')).toBe(false);
      expect(isFlowFileName('banking.yaml')).toBe(true);
      expect(isFlowFileName('banking.test.yaml')).toBe(false);
    });
  });
});
