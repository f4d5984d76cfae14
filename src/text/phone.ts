import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js';

export type { CountryCode, PhoneNumber };

/** Characters a stored or received phone number may contain; anything else (letters, `%`, `_`) is junk. */
const PHONE_CHARS = /^\+?[\d\s\-().]+$/;
const MAX_RAW_LENGTH = 50;

/** The number `raw` parses to when it is valid (in `country`, or international), else undefined. */
export function parseValid(raw: string, country?: CountryCode): PhoneNumber | undefined {
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
  // Every hop of a session carries the same number: parsed once (libphonenumber is a large share of a hop's CPU).
  const key = `${defaultCountry} ${raw}`;
  const known = normalised.get(key);
  if (known !== undefined) return known;
  const e164 = parseE164(raw, defaultCountry);
  if (normalised.size >= NORMALISED_MAX) normalised.clear();
  normalised.set(key, e164);
  return e164;
}

/** Numbers already normalised, by country and raw text; emptied when full (the numbers in sessions come back). */
const normalised = new Map<string, string | null>();
const NORMALISED_MAX = 10_000;

function parseE164(raw: string, defaultCountry: CountryCode): string | null {
  const text = raw.trim();
  if (text === '' || text.length > MAX_RAW_LENGTH || !PHONE_CHARS.test(text)) return null;
  const digits = text.replace(/\D/g, '');
  if (digits.length < 6 || digits.length > 15) return null;

  const candidates: (() => PhoneNumber | undefined)[] = [
    () => parseValid(text, defaultCountry),
    // International number stored without the plus sign (`255711000009`).
    () => (text.startsWith('+') ? undefined : parseValid(`+${digits}`)),
    // International call prefix `00` (libphonenumber only knows the default country's own prefix).
    () => (digits.startsWith('00') && !text.startsWith('+') ? parseValid(`+${digits.slice(2)}`) : undefined),
  ];
  for (const candidate of candidates) {
    const n = candidate();
    if (n) return n.number;
  }
  return null;
}

/**
 * How a customer of `country` writes one of their own numbers: the national form's digits (`+254711000002` ->
 * `0711000002` in Kenya); a number of another country stays in E.164.
 */
export function nationalDigits(e164: string, country: CountryCode): string {
  const n = parsePhoneNumberFromString(e164);
  return n?.country === country ? n.formatNational().replace(/\D/g, '') : e164;
}

/** "+254711000002" -> "0711***002" for display (national form for numbers of `country`, the deployment's). */
export function maskPhone(e164: string, country: CountryCode): string {
  const national = nationalDigits(e164, country);
  return national.length > 6 ? `${national.slice(0, 4)}***${national.slice(-3)}` : national;
}
