import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { FineractError } from '../fineract/errors.js';
import type { FineractClient, LoanProduct, SavingsProduct } from '../fineract/types.js';
import { parseYamlSource, schemaIssue } from './yaml-source.js';

/**
 * The product catalogue (`flows/catalogue.yaml`, issue 12): which Fineract savings and loan products each
 * channel shows, under which short name per language, and with which terms. It is data like the flows and is
 * refused the same way, with its file, line and path.
 *
 * It is an allow-list: a product it does not show on any channel is hidden everywhere (menus, balances,
 * statements, own-account choices, loan repayment), because a product added in Fineract must not reach a
 * basic phone before someone decided it should. Amounts are written in the currency's major units, as people
 * read them (`min: 5000` is KES 5,000); the API hands them out in minor units.
 */

export const CATALOGUE_CHANNELS = ['ussd', 'sms', 'voice'] as const;
export type CatalogueChannel = (typeof CATALOGUE_CHANNELS)[number];
export type ProductKind = 'loan' | 'savings';

/** The file name the flow loader, lint and graph skip: it is not a flow. */
export const CATALOGUE_FILE_NAME = 'catalogue.yaml';

/** Longest display name: it must fit a numbered USSD menu line and an SMS next to an amount. */
const DISPLAY_NAME_MAX = 20;

const displayNames = z
  .record(z.string().regex(/^[a-z]{2}$/, 'a language code such as en, sw, fr'), z.string().trim().min(1).max(DISPLAY_NAME_MAX))
  .refine((names) => 'en' in names, { message: 'a display name in en (the fallback language) is required' });

const channels = z.array(z.enum(CATALOGUE_CHANNELS)).refine((c) => new Set(c).size === c.length, {
  message: 'a channel is named twice',
});

const savingsProduct = z
  .object({
    id: z.number().int().positive(),
    /** Fineract's product name, for the people reading the file; compared with Fineract's (a warning). */
    name: z.string().min(1),
    /** Channels that show it; empty = hidden everywhere. */
    channels,
    displayName: displayNames.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.channels.length > 0 && !p.displayName)
      ctx.addIssue({ code: 'custom', path: ['displayName'], message: 'a product shown on a channel needs a displayName' });
  });

const amount = z
  .object({ min: z.number().positive(), max: z.number().positive() })
  .strict()
  .refine((a) => a.min <= a.max, { message: 'min is larger than max' });

const loanProduct = z
  .object({
    id: z.number().int().positive(),
    name: z.string().min(1),
    channels,
    displayName: displayNames.optional(),
    /** The principal a customer may ask for, in major units; must lie inside the product's min/max principal. */
    amount: amount.optional(),
    /** The numbers of repayments offered, inside the product's min/max. */
    repayments: z.array(z.number().int().positive()).min(1).optional(),
    /** Whether the interest rate is shown with the quote. */
    showRate: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.channels.length === 0) return;
    for (const field of ['displayName', 'amount', 'repayments'] as const) {
      if (p[field] === undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: `a loan product shown on a channel needs ${field}` });
    }
    if (p.repayments && new Set(p.repayments).size !== p.repayments.length)
      ctx.addIssue({ code: 'custom', path: ['repayments'], message: 'a number of repayments is listed twice' });
  });

export const catalogueSchema = z
  .object({
    /** Named on the consent screen and stored with the consent: change it whenever the terms change. */
    termsVersion: z.string().trim().min(1).max(20),
    currency: z.object({ code: z.string().regex(/^[A-Z]{3}$/), decimalPlaces: z.number().int().min(0).max(6) }).strict(),
    savingsProducts: z.array(savingsProduct).default([]),
    loanProducts: z.array(loanProduct).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    // An amount the currency cannot hold (5000.005 KES) would be rounded silently.
    const scale = 10 ** c.currency.decimalPlaces;
    c.loanProducts.forEach((p, i) => {
      for (const end of ['min', 'max'] as const) {
        const value = p.amount?.[end];
        if (value !== undefined && Math.abs(value * scale - Math.round(value * scale)) > 1e-6)
          ctx.addIssue({
            code: 'custom',
            path: ['loanProducts', i, 'amount', end],
            message: `${value} has more than ${c.currency.decimalPlaces} decimals for ${c.currency.code}`,
          });
      }
    });
    for (const kind of ['savingsProducts', 'loanProducts'] as const) {
      const seen = new Set<number>();
      c[kind].forEach((p, i) => {
        if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: [kind, i, 'id'], message: `product ${p.id} is listed twice` });
        seen.add(p.id);
      });
    }
  });

export type CatalogueFile = z.infer<typeof catalogueSchema>;

/** A problem of the catalogue, located like a flow's (`flows/catalogue.yaml:12 loanProducts.0.amount: ...`). */
export interface CatalogueIssue {
  severity: 'error' | 'warning';
  /** `catalogue`: the file itself; `catalogue-product`: the file against Fineract's products. */
  rule: 'catalogue' | 'catalogue-product';
  file: string;
  line?: number;
  path: (string | number)[];
  message: string;
}

export function formatCatalogueIssue(i: CatalogueIssue): string {
  const where = i.path.length > 0 ? ` ${i.path.join('.')}` : '';
  return `${i.file}${i.line ? `:${i.line}` : ''} ${i.severity}${where}: ${i.message} [${i.rule}]`;
}

/** Thrown by loadCatalogue (and the start-up check) with every problem. */
export class CatalogueError extends Error {
  constructor(readonly issues: CatalogueIssue[]) {
    super(`product catalogue refused:\n  ${issues.map(formatCatalogueIssue).join('\n  ')}`);
    this.name = 'CatalogueError';
  }
}

/** A loan product as a channel shows it. Amounts in minor units of `currency`. */
export interface ShownLoanProduct {
  productId: number;
  displayName: string;
  currency: string;
  minAmountMinor: number;
  maxAmountMinor: number;
  /** The numbers of repayments offered, ascending. */
  repayments: number[];
  showRate: boolean;
}

export interface ShownSavingsProduct {
  productId: number;
  displayName: string;
}

/** What the catalogue is checked against: Fineract's own product terms (`GET /loanproducts`, `GET /savingsproducts`). */
export interface LoanProductTerms {
  id: number;
  name: string;
  currencyCode: string;
  decimalPlaces: number;
  /** Undefined: Fineract sets no bound. */
  minPrincipalMinor?: number;
  maxPrincipalMinor?: number;
  minNumberOfRepayments?: number;
  maxNumberOfRepayments?: number;
  /** False when Fineract says the product is closed (it takes no new loans). */
  active?: boolean;
}

export interface SavingsProductTerms {
  id: number;
  name: string;
  currencyCode: string;
}

export interface Catalogue {
  /** The file as read (relative to the working directory), for messages. */
  readonly file: string;
  readonly definition: CatalogueFile;
  readonly termsVersion: string;
  readonly currency: { code: string; decimalPlaces: number };
  /** Loan products shown on `channel`, in file order, named in `lang` (falling back to en). */
  loanProducts(channel: CatalogueChannel, lang: string): ShownLoanProduct[];
  /** One shown loan product, or undefined when `channel` does not show it. */
  loanProduct(productId: number, channel: CatalogueChannel, lang: string): ShownLoanProduct | undefined;
  savingsProducts(channel: CatalogueChannel, lang: string): ShownSavingsProduct[];
  /** True when no channel shows the product (also when the catalogue does not name it). */
  isHidden(productId: number, kind?: ProductKind): boolean;
  /** Ids of the products some channel shows: the filter of every account list. */
  shownProductIds(kind: ProductKind): number[];
  /** The line of a path in the file, for messages. */
  lineOf(path: (string | number)[]): number | undefined;
}

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

/**
 * The catalogue against Fineract's products. Errors: a shown product missing in Fineract, another currency,
 * an amount range or a number of repayments outside the product's own (Fineract would refuse the loan
 * application late, after the customer was promised the terms: LoanProductDataValidator.validateMinMaxConstraints).
 * Warnings: a hidden product missing in Fineract (nothing is shown), a name that differs from Fineract's.
 */
export function checkCatalogueAgainstProducts(
  catalogue: Catalogue,
  products: { loan: readonly LoanProductTerms[]; savings: readonly SavingsProductTerms[] },
): CatalogueIssue[] {
  const issues: CatalogueIssue[] = [];
  const def = catalogue.definition;
  const at = (severity: CatalogueIssue['severity'], path: (string | number)[], message: string) =>
    issues.push({ severity, rule: 'catalogue-product', file: catalogue.file, line: catalogue.lineOf(path), path, message });
  const money = (minor: number, decimals: number) => (minor / 10 ** decimals).toFixed(decimals);

  def.savingsProducts.forEach((p, i) => {
    const shown = p.channels.length > 0;
    const product = products.savings.find((x) => x.id === p.id);
    if (!product) {
      at(shown ? 'error' : 'warning', ['savingsProducts', i, 'id'], `savings product ${p.id} (${p.name}) does not exist in Fineract`);
      return;
    }
    if (product.name !== p.name)
      at('warning', ['savingsProducts', i, 'name'], `Fineract names savings product ${p.id} '${product.name}', not '${p.name}'`);
    if (shown && product.currencyCode !== def.currency.code)
      at(
        'error',
        ['savingsProducts', i, 'id'],
        `savings product ${p.id} is in ${product.currencyCode}, the catalogue in ${def.currency.code}`,
      );
  });

  def.loanProducts.forEach((p, i) => {
    const shown = p.channels.length > 0;
    let product = products.loan.find((x) => x.id === p.id);
    if (!product) {
      at(shown ? 'error' : 'warning', ['loanProducts', i, 'id'], `loan product ${p.id} (${p.name}) does not exist in Fineract`);
      return;
    }
    if (product.name !== p.name)
      at('warning', ['loanProducts', i, 'name'], `Fineract names loan product ${p.id} '${product.name}', not '${p.name}'`);
    if (!shown) return;
    if (product.active === false)
      at('error', ['loanProducts', i, 'id'], `loan product ${p.id} (${p.name}) is not active in Fineract: it takes no new loans`);
    if (product.currencyCode !== def.currency.code || product.decimalPlaces !== def.currency.decimalPlaces) {
      at(
        'error',
        ['loanProducts', i, 'id'],
        `loan product ${p.id} is in ${product.currencyCode} with ${product.decimalPlaces} decimals, the catalogue in ${def.currency.code} with ${def.currency.decimalPlaces}`,
      );
      return;
    }
    const shownTerms = catalogue.loanProduct(p.id, p.channels[0] as CatalogueChannel, 'en');
    if (!shownTerms) return;
    const d = product.decimalPlaces;
    // Fineract applies a bound only when it is above zero (LoanProductDataValidator.validateMinMaxConstraints).
    const bound = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);
    product = {
      ...product,
      minPrincipalMinor: bound(product.minPrincipalMinor),
      maxPrincipalMinor: bound(product.maxPrincipalMinor),
      minNumberOfRepayments: bound(product.minNumberOfRepayments),
      maxNumberOfRepayments: bound(product.maxNumberOfRepayments),
    };
    const range = `${money(product.minPrincipalMinor ?? 0, d)} to ${product.maxPrincipalMinor === undefined ? 'no maximum' : money(product.maxPrincipalMinor, d)}`;
    if (product.minPrincipalMinor !== undefined && shownTerms.minAmountMinor < product.minPrincipalMinor)
      at(
        'error',
        ['loanProducts', i, 'amount', 'min'],
        `amount min ${money(shownTerms.minAmountMinor, d)} is below the product's own range (${range})`,
      );
    if (product.maxPrincipalMinor !== undefined && shownTerms.maxAmountMinor > product.maxPrincipalMinor)
      at(
        'error',
        ['loanProducts', i, 'amount', 'max'],
        `amount max ${money(shownTerms.maxAmountMinor, d)} is above the product's own range (${range})`,
      );
    const lo = product.minNumberOfRepayments;
    const hi = product.maxNumberOfRepayments;
    (p.repayments ?? []).forEach((n, j) => {
      if ((lo !== undefined && n < lo) || (hi !== undefined && n > hi))
        at(
          'error',
          ['loanProducts', i, 'repayments', j],
          `${n} repayments is outside the product's own range (${lo ?? 1} to ${hi ?? 'no maximum'})`,
        );
    });
  });
  return issues;
}

/** Fineract's loan product as the check reads it. */
export function loanProductTerms(p: LoanProduct): LoanProductTerms {
  return {
    id: p.id,
    name: p.name,
    currencyCode: p.currency,
    decimalPlaces: p.decimalPlaces,
    ...(p.principalCents.min !== undefined ? { minPrincipalMinor: p.principalCents.min } : {}),
    ...(p.principalCents.max !== undefined ? { maxPrincipalMinor: p.principalCents.max } : {}),
    ...(p.numberOfRepayments.min !== undefined ? { minNumberOfRepayments: p.numberOfRepayments.min } : {}),
    ...(p.numberOfRepayments.max !== undefined ? { maxNumberOfRepayments: p.numberOfRepayments.max } : {}),
    active: p.active,
  };
}

export function savingsProductTerms(p: SavingsProduct): SavingsProductTerms {
  return { id: p.id, name: p.name, currencyCode: p.currency };
}

/** Reads Fineract's products (through the lookup cache when `fineract` is the cached client) and checks the catalogue. */
export async function checkCatalogueWithFineract(
  catalogue: Catalogue,
  fineract: Pick<FineractClient, 'listLoanProducts' | 'listSavingsProducts'>,
): Promise<CatalogueIssue[]> {
  const [loan, savings] = await Promise.all([fineract.listLoanProducts(), fineract.listSavingsProducts()]);
  return checkCatalogueAgainstProducts(catalogue, { loan: loan.map(loanProductTerms), savings: savings.map(savingsProductTerms) });
}

/**
 * The start-up check. A shown product missing in Fineract, or terms outside the product's own, refuse the
 * start (CatalogueError): serving them would promise customers terms Fineract then refuses, after a review.
 * Warnings are logged. When Fineract does not answer, the server starts (channels must not depend on the
 * back office being up at the same second) and says loudly that the catalogue went unchecked; the account
 * filter works without the check, and `kiunga lint --fineract` runs it on demand.
 */
export async function verifyCatalogueAtStart(
  catalogue: Catalogue,
  fineract: Pick<FineractClient, 'listLoanProducts' | 'listSavingsProducts'>,
  logger: Logger,
): Promise<void> {
  let issues: CatalogueIssue[];
  try {
    issues = await checkCatalogueWithFineract(catalogue, fineract);
  } catch (err) {
    if (!(err instanceof FineractError)) throw err;
    logger.error(
      { file: catalogue.file, err: err.message },
      'product catalogue NOT checked against Fineract: its products could not be read',
    );
    return;
  }
  for (const i of issues.filter((x) => x.severity === 'warning')) logger.warn({ file: catalogue.file }, formatCatalogueIssue(i));
  const errors = issues.filter((x) => x.severity === 'error');
  if (errors.length > 0) throw new CatalogueError(errors);
  logger.info(
    { file: catalogue.file, loanProducts: catalogue.shownProductIds('loan'), savingsProducts: catalogue.shownProductIds('savings') },
    'product catalogue checked against Fineract',
  );
}
