import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parseYamlSource, schemaIssue } from './yaml-source.js';
import {
  CatalogueError,
  catalogueSchema,
  type Catalogue,
  type CatalogueFile,
  type CatalogueIssue,
  type ProductKind,
  type ShownLoanProduct,
} from './catalogue-schema.js';

export {
  CATALOGUE_CHANNELS,
  CATALOGUE_FILE_NAME,
  CatalogueError,
  catalogueSchema,
  formatCatalogueIssue,
  type Catalogue,
  type CatalogueChannel,
  type CatalogueFile,
  type CatalogueIssue,
  type ProductKind,
  type ShownLoanProduct,
  type ShownSavingsProduct,
} from './catalogue-schema.js';
export {
  checkCatalogueAgainstProducts,
  checkCatalogueWithFineract,
  loanProductTerms,
  savingsProductTerms,
  verifyCatalogueAtStart,
  type LoanProductTerms,
  type SavingsProductTerms,
} from './catalogue-check.js';

/**
 * The product catalogue (`flows/catalogue.yaml`, issue 12): which Fineract savings and loan products each
 * channel shows, under which short name per language, and with which terms. It is data like the flows and is
 * refused the same way, with its file, line and path.
 *
 * It is an allow-list: a product it does not show on any channel is hidden everywhere (menus, balances,
 * statements, own-account choices, loan repayment), because a product added in Fineract must not reach a
 * basic phone before someone decided it should. Amounts are written in the currency's major units, as people
 * read them (`min: 5000` is KES 5,000); the API hands them out in minor units.
 *
 * This file reads the catalogue (parse, validate, load); its schema and types are in catalogue-schema.ts, its
 * check against Fineract's products in catalogue-check.ts. Everything is exported from here.
 */

/** Parses and validates a catalogue's source; never throws. */
export function parseCatalogue(file: string, source: string): { catalogue?: Catalogue; issues: CatalogueIssue[] } {
  const yaml = parseYamlSource(source);
  if (!yaml.ok) {
    return {
      issues: yaml.errors.map((e) => ({ severity: 'error', rule: 'catalogue', file, path: [], line: e.line, message: e.message })),
    };
  }
  const { lineOf } = yaml;
  const parsed = catalogueSchema.safeParse(yaml.value);
  if (!parsed.success) {
    return {
      issues: parsed.error.issues.map((i) => {
        const { path, message } = schemaIssue(i);
        return { severity: 'error', rule: 'catalogue', file, path, line: lineOf(path), message };
      }),
    };
  }
  return { catalogue: buildCatalogue(file, parsed.data, lineOf), issues: [] };
}

function buildCatalogue(file: string, def: CatalogueFile, lineOf: Catalogue['lineOf']): Catalogue {
  const scale = 10 ** def.currency.decimalPlaces;
  const nameIn = (names: Record<string, string> | undefined, lang: string) => names?.[lang] ?? names?.en ?? '';
  const toShownLoan = (p: CatalogueFile['loanProducts'][number], lang: string): ShownLoanProduct => ({
    productId: p.id,
    displayName: nameIn(p.displayName, lang),
    currency: def.currency.code,
    minAmountMinor: Math.round((p.amount?.min ?? 0) * scale),
    maxAmountMinor: Math.round((p.amount?.max ?? 0) * scale),
    repayments: [...(p.repayments ?? [])].sort((a, b) => a - b),
    showRate: p.showRate,
  });
  const listOf = (kind: ProductKind) => (kind === 'loan' ? def.loanProducts : def.savingsProducts);
  return {
    file,
    definition: def,
    termsVersion: def.termsVersion,
    currency: def.currency,
    loanProducts: (channel, lang) => def.loanProducts.filter((p) => p.channels.includes(channel)).map((p) => toShownLoan(p, lang)),
    loanProduct: (productId, channel, lang) => {
      const p = def.loanProducts.find((x) => x.id === productId && x.channels.includes(channel));
      return p ? toShownLoan(p, lang) : undefined;
    },
    savingsProducts: (channel, lang) =>
      def.savingsProducts
        .filter((p) => p.channels.includes(channel))
        .map((p) => ({ productId: p.id, displayName: nameIn(p.displayName, lang) })),
    isHidden: (productId, kind = 'loan') => !listOf(kind).some((p) => p.id === productId && p.channels.length > 0),
    shownProductIds: (kind) =>
      listOf(kind)
        .filter((p) => p.channels.length > 0)
        .map((p) => p.id),
    lineOf,
  };
}

/** Reads and validates a catalogue file; throws CatalogueError with every problem. */
export async function loadCatalogue(path: string): Promise<Catalogue> {
  const file = relative(process.cwd(), path) || path;
  const { catalogue, issues } = parseCatalogue(file, await readFile(path, 'utf8'));
  if (!catalogue) throw new CatalogueError(issues);
  return catalogue;
}

/** Loads the catalogue at `path`, or returns null when there is no such file (the product-id settings then apply). */
export async function loadCatalogueIfPresent(path: string): Promise<Catalogue | null> {
  try {
    return await loadCatalogue(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
