import type { Logger } from '../logger.js';
import { FineractError } from '../fineract/errors.js';
import type { FineractClient, LoanProduct, SavingsProduct } from '../fineract/types.js';
import { CatalogueError, formatCatalogueIssue, type Catalogue, type CatalogueChannel, type CatalogueIssue } from './catalogue-schema.js';

/**
 * The product catalogue (catalogue.ts) checked against Fineract's own products: by lint
 * (`kiunga lint --fineract`) and at start-up, where a shown product Fineract would refuse stops the server.
 */

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
