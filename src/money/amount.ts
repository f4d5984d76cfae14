/** Amounts in minor units (cents), as Fineract reads them and as customers type them. */

/** Fineract amounts are decimal strings: 50000 cents -> "500.00". */
export const toDecimal = (cents: number) => `${Math.trunc(cents / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;

/** Parses a customer's amount ("500", "500.5", "500.50") into cents; undefined when it is not one. */
export function parseAmount(text: string): number | undefined {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}
