/**
 * PINs too easy to guess (issue 10, point 3): what an attacker holding the phone, or a customer's details,
 * tries first. A new PIN (at enrolment or on a change) is refused with the first rule it breaks, and the
 * customer is told which, so they can choose another.
 *
 * - `repeated`: one digit repeated (0000, 1111).
 * - `sequence`: a straight run up or down (1234, 4321, 012345); no wrap-around (9012 is allowed).
 * - `birth-year`: the year of birth Fineract holds for the client (`dateOfBirth`), anywhere in the PIN.
 * - `phone`: the last digits of the customer's phone number (the last 4 anywhere, or the PIN's length at the end).
 */
export const PIN_WEAKNESSES = ['repeated', 'sequence', 'birth-year', 'phone'] as const;
export type PinWeakness = (typeof PIN_WEAKNESSES)[number];

export interface PinFacts {
  /** ISO `yyyy-mm-dd` from Fineract, when known. */
  birthDate?: string;
  /** The customer's E.164 number. */
  msisdn?: string;
}

/** The first rule the PIN breaks, or undefined when it is acceptable. Assumes a string of digits. */
export function pinWeakness(pin: string, facts: PinFacts = {}): PinWeakness | undefined {
  const digits = [...pin].map(Number);
  if (digits.every((d) => d === digits[0])) return 'repeated';
  const steps = digits.slice(1).map((d, i) => d - digits[i]!);
  if (steps.every((s) => s === 1) || steps.every((s) => s === -1)) return 'sequence';
  const year = /^(\d{4})-/.exec(facts.birthDate ?? '')?.[1];
  if (year && pin.includes(year)) return 'birth-year';
  const phone = (facts.msisdn ?? '').replace(/\D/g, '');
  if (phone.length >= 4 && (pin.includes(phone.slice(-4)) || (phone.length >= pin.length && phone.endsWith(pin)))) return 'phone';
  return undefined;
}
