import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { CountryCode } from 'libphonenumber-js';
import type { Config } from '../config.js';
import { createFineractClient } from '../fineract/client.js';
import { startSandbox } from '../sandbox/server.js';
import {
  CATALOGUE_FILE_NAME,
  checkCatalogueAgainstProducts,
  loanProductTerms,
  parseCatalogue,
  savingsProductTerms,
  type CatalogueIssue,
} from '../engine/catalogue.js';
import { nonGsmChars } from '../text/gsm.js';
import type { LintMessage, LintOptions } from './lint-report.js';

/**
 * The product catalogue: its schema offline (rule `catalogue`, with a warning for a shown product without a
 * display name in a language), and with Fineract's products its ids, currency and terms (`catalogue-product`).
 */
export async function lintCatalogue(options: LintOptions, languages: string[], add: (m: LintMessage) => void): Promise<void> {
  const path = options.catalogueFile ?? join(options.flowsDir, CATALOGUE_FILE_NAME);
  const file = relative(process.cwd(), path) || path;
  // No file: no catalogue, as for the server (the product-id settings apply).
  const source = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (source === undefined) return;
  const fromIssue = (i: CatalogueIssue): LintMessage => ({
    severity: i.severity,
    rule: i.rule,
    file: i.file,
    line: i.line,
    where: i.path.join('.'),
    message: i.message,
  });
  const { catalogue, issues } = parseCatalogue(file, source);
  issues.forEach((i) => add(fromIssue(i)));
  if (!catalogue) return;
  const def = catalogue.definition;
  for (const [kind, list] of [
    ['savingsProducts', def.savingsProducts],
    ['loanProducts', def.loanProducts],
  ] as const) {
    list.forEach((p, i) => {
      if (p.channels.length === 0 || !p.displayName) return;
      // Names appear on USSD screens and in SMS: one character outside GSM-7 turns an SMS into UCS-2.
      for (const [lang, name] of Object.entries(p.displayName)) {
        const path = [kind, i, 'displayName', lang];
        for (const c of nonGsmChars(name))
          add({
            severity: 'error',
            rule: 'non-gsm',
            file,
            line: catalogue.lineOf(path),
            where: path.join('.'),
            message: `"${c.char}" is not in the GSM-7 alphabet${c.suggestion ? `: write "${c.suggestion}" instead` : ''}`,
          });
      }
      for (const lang of languages.filter((l) => !(l in p.displayName!))) {
        const path = [kind, i, 'displayName'];
        add({
          severity: 'warning',
          rule: 'catalogue',
          file,
          line: catalogue.lineOf(path),
          where: path.join('.'),
          message: `no display name in '${lang}': the en one is shown`,
        });
      }
    });
  }
  if (options.products) checkCatalogueAgainstProducts(catalogue, options.products).forEach((i) => add(fromIssue(i)));
}

/**
 * Fineract's products for `kiunga lint --fineract`: from FINERACT_URL, or without it from the built-in sandbox
 * and its demo data (what `kiunga serve` would run against).
 */
export async function readFineractProducts(config: Config): Promise<NonNullable<LintOptions['products']>> {
  const sandbox = config.fineract.url ? undefined : await startSandbox({ port: 0 });
  const client = createFineractClient({
    baseUrl: config.fineract.url ?? sandbox!.url,
    tenant: config.fineract.tenant,
    username: config.fineract.username,
    password: config.fineract.password,
    timeoutMs: config.fineract.timeoutMs,
    defaultCountry: config.defaultCountry as CountryCode,
  });
  try {
    const [loan, savings] = await Promise.all([client.listLoanProducts(), client.listSavingsProducts()]);
    return { loan: loan.map(loanProductTerms), savings: savings.map(savingsProductTerms) };
  } finally {
    await client.close();
    await sandbox?.close();
  }
}
