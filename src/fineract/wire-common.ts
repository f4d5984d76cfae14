import { z } from 'zod';

/**
 * The building blocks of Fineract's wire shapes, shared by the `wire-*.ts` schemas: amounts, dates, enum
 * values, statuses and currencies as Fineract serialises them. Unknown keys are dropped; absent keys are normal
 * (Gson omits nulls).
 */

/** BigDecimal amounts: JSON numbers, possibly with trailing zeros; tolerate numeric strings. */
export const amount = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);

/** LocalDate: `[2024, 1, 31]` from Gson endpoints, `"2024-01-31"` from Jackson ones. */
export const localDate = z
  .union([z.tuple([z.number().int(), z.number().int(), z.number().int()]), z.string().regex(/^\d{4}-\d{2}-\d{2}/)])
  .transform((d) =>
    typeof d === 'string'
      ? d.slice(0, 10)
      : `${String(d[0]).padStart(4, '0')}-${String(d[1]).padStart(2, '0')}-${String(d[2]).padStart(2, '0')}`,
  );

export const enumData = z.object({ id: z.number(), code: z.string().optional(), value: z.string().optional() });
export const status = enumData.extend({ active: z.boolean().optional() });
export const currency = z.object({ code: z.string(), decimalPlaces: z.number().int().min(0).max(6).optional() });

/** Status ids: 300 is active for clients, savings and loans alike. */
export const ACTIVE = 300;

export const isActive = (s: { id: number; active?: boolean | undefined }): boolean => s.active ?? s.id === ACTIVE;
