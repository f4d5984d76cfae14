import { parseValid, type CountryCode, type PhoneNumber } from '../text/phone.js';

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
  const n = parseValid(e164);
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
  return parseValid(n.formatNational(), country)?.number === n.number;
}

/**
 * Exact queries for when the substring search hit Fineract's 50-row cap and the match may have been cut off:
 * the unformatted variants the substring search would otherwise have covered.
 */
export function uncappedFallbackQueries(e164: string): LookupQuery[] {
  const n = parseValid(e164);
  if (!n) return [];
  const nsn = n.nationalNumber as string;
  const nationalDigits = n.formatNational().replace(/\D/g, '');
  return [...new Set([e164, e164.slice(1), nationalDigits, nsn])].map((query) => ({ query, exactMatch: true }));
}
