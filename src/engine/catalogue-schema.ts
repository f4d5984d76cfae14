import { z } from 'zod';

/**
 * The product catalogue's schema (`flows/catalogue.yaml`, issue 12) and the types Kiunga reads it through; the
 * catalogue itself, what it means and how it is loaded, is described in catalogue.ts.
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
