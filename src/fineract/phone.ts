import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js';

export type { CountryCode };

/** Characters a stored or received phone number may contain; anything else (letters, `%`, `_`) is junk. */
const PHONE_CHARS = /^\+?[\d\s\-().]+$/;
const MAX_RAW_LENGTH = 50;

function valid(raw: string, country?: CountryCode): PhoneNumber | undefined {
  const n = country ? parsePhoneNumberFromString(raw, country) : parsePhoneNumberFromString(raw);
  return n?.isValid() ? n : undefined;
}

/**
 * Normalises a phone number the way it may be typed or stored (`0711000001`, `711000001`, `254711000003`,
 * `+254 711 000002`, `00254711000001`) to E.164 (`+254711000001`). Returns null for junk and for numbers that
 * are not valid in their country (wrong length, impossible prefix).
 */
export function toE164(raw: string, defaultCountry: CountryCode): string | null {
  if (typeof raw !== 'string') return null;
  const text = raw.trim();
  if (text === '' || text.length > MAX_RAW_LENGTH || !PHONE_CHARS.test(text)) return null;
  const digits = text.replace(/\D/g, '');
  if (digits.length < 6 || digits.length > 15) return null;

  const candidates: (() => PhoneNumber | undefined)[] = [
    () => valid(text, defaultCountry),
    // International number stored without the plus sign (`255711000009`).
    () => (text.startsWith('+') ? undefined : valid(`+${digits}`)),
    // International call prefix `00` (libphonenumber only knows the default country's own prefix).
    () => (digits.startsWith('00') && !text.startsWith('+') ? valid(`+${digits.slice(2)}`) : undefined),
  ];
  for (const candidate of candidates) {
    const n = candidate();
    if (n) return n.number;
  }
  return null;
}

/** One `GET /search?resource=clients` query. */
export interface LookupQuery {
  query: string;
  /** false: SQL `LIKE %query%`; true: `LIKE query`, i.e. equality. */
  exactMatch: boolean;
}

/**
 * The ordered Fineract searches that find a client whose mobileNo is stored in some other format than E.164.
 * First the national significant number as a substring (`711000001` matches `0711000001`, `254711000001`,
 * `+254711000001`, `711000001`), then the formatted variants with spaces that a substring cannot reach
 * (`+254 711 000002`, `0711 000002`, `254 711 000002`). Every hit must still be normalised and compared:
 * a substring also matches longer, different numbers. The national format is searched only for numbers of
 * `country` (a foreign number's national format would normalise to a different, local number). Returns []
 * when `e164` is not a valid E.164 number.
 */
export function lookupQueries(e164: string, country: CountryCode): LookupQuery[] {
  if (!/^\+\d{6,15}$/.test(e164)) return [];
  const n = valid(e164);
  if (!n || n.number !== e164) return [];
  const nsn = n.nationalNumber as string;
  const international = n.formatInternational();
  const queries: LookupQuery[] = [
    { query: nsn, exactMatch: false },
    { query: international, exactMatch: true },
    // A national format only means this number when stored by someone dialling from its own country.
    ...(isHomeNumber(n, country) ? [{ query: n.formatNational(), exactMatch: true }] : []),
    { query: international.replace(/^\+/, ''), exactMatch: true },
  ];
  const seen = new Set<string>();
  return queries.filter((q) => {
    // An exact query the substring search already covers (no separators) adds nothing.
    if (q.exactMatch && q.query.includes(nsn)) return false;
    const key = `${q.exactMatch}:${q.query}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isHomeNumber(n: PhoneNumber, country: CountryCode): boolean {
  return valid(n.formatNational(), country)?.number === n.number;
}

/**
 * Exact queries for when the substring search hit Fineract's 50-row cap and the match may have been cut off:
 * the unformatted variants the substring search would otherwise have covered.
 */
export function uncappedFallbackQueries(e164: string): LookupQuery[] {
  const n = valid(e164);
  if (!n) return [];
  const nsn = n.nationalNumber as string;
  const nationalDigits = n.formatNational().replace(/\D/g, '');
  return [...new Set([e164, e164.slice(1), nationalDigits, nsn])].map((query) => ({ query, exactMatch: true }));
}
