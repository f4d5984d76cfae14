/**
 * National ID numbers and ages for sign-up (issue 12). The rule table is per country (ISO 3166 alpha-2) and
 * open: a country is added with one row. Kenya's national ID card number is 7 or 8 digits (older cards have
 * 7); a number is compared without spaces or dashes, the way people read it off the card.
 */

export interface IdRule {
  /** The pattern the normalised number must match in full. */
  pattern: RegExp;
  /** What the applicant is told to type, in plain words (English; screens use the locale's own text). */
  describe: string;
}

export const NATIONAL_ID_RULES: Readonly<Record<string, IdRule>> = Object.freeze({
  KE: { pattern: /^\d{7,8}$/, describe: '7 or 8 digits' },
});

/** The number as it is kept and compared: no spaces, dashes or dots, upper case. */
export function normaliseNationalId(raw: string): string {
  return raw.replace(/[\s.-]/g, '').toUpperCase();
}

/** The normalised number when it follows the country's rule, else undefined (unknown country: undefined). */
export function validNationalId(country: string, raw: string): string | undefined {
  const rule = NATIONAL_ID_RULES[country];
  if (!rule) return undefined;
  const id = normaliseNationalId(raw);
  return rule.pattern.test(id) ? id : undefined;
}

/** Lowest age at which a person may sign up and borrow. */
export const ADULT_AGE = 18;

/**
 * A date of birth typed as DDMMYYYY (the way it is written on a Kenyan ID card) or YYYY-MM-DD, as
 * `yyyy-mm-dd` when it is a real calendar date, else undefined.
 */
export function parseBirthDate(raw: string): string | undefined {
  const text = raw.trim();
  let m = /^(\d{2})[./-]?(\d{2})[./-]?(\d{4})$/.exec(text);
  let y: number, mo: number, d: number;
  if (m) [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else {
    m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!m) return undefined;
    [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined;
  return date.toISOString().slice(0, 10);
}

/** Whole years between a birth date and `today` (both `yyyy-mm-dd`). */
export function ageOn(birthDate: string, today: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [ty, tm, td] = today.split('-').map(Number) as [number, number, number];
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}
