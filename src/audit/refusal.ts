import { AUDIT_TYPES, FORBIDDEN_DATA, type AuditEvent } from './audit.js';

/**
 * What the audit trail refuses to write (threat T16): an event of an unknown type or actor, and `data` that
 * could carry a secret, by its name (`FORBIDDEN_DATA`) or by its value. A value is refused when it has the
 * shape of a PIN or one-time code (4 to 6 digits alone), of a credential (a PEM block, an Authorization
 * value, a JWT, a long mix of letters and digits) or of a full phone number (numbers go in `msisdn`, which
 * the trail masks). Facts pass: numbers as numbers, hex idempotency keys, references, masked labels.
 */

/** A `data` value shaped like a PIN or one-time code (4 to 6 digits alone): refused. */
const CODE_LIKE = /^\d{4,6}$/;
/** Values that carry a credential: a PEM block, an Authorization value, a JWT, a full (unmasked) phone number. */
const SECRET_LIKE = [/-----BEGIN /, /^(bearer|basic)\s+\S/i, /\beyJ[\w-]{4,}\.[\w-]{4,}\./, /\+\d{8,15}/];
/** A long unbroken mix of upper and lower case letters and digits: a token rather than a fact. */
const TOKEN_LIKE = (v: string) => v.length >= 24 && /^[A-Za-z0-9+/_=-]+$/.test(v) && /[A-Z]/.test(v) && /[a-z]/.test(v) && /\d/.test(v);
const ACTOR = /^(customer:[A-Za-z0-9_.:-]{1,64}|operator:[A-Za-z0-9_.@-]{1,64}|system)$/;

/** Why an event is refused (never the refused value itself), or undefined when it may be written. */
export function refusalOf(event: AuditEvent): string | undefined {
  if (!(AUDIT_TYPES as readonly string[]).includes(event.type)) return 'unknown type';
  if (typeof event.actor !== 'string' || !ACTOR.test(event.actor)) return 'actor must be customer:<id>, operator:<name> or system';
  if (event.clientId !== undefined && !Number.isSafeInteger(event.clientId)) return 'clientId must be an integer';
  if (event.msisdn !== undefined && typeof event.msisdn !== 'string') return 'msisdn must be a string';
  if (event.channel !== undefined && (typeof event.channel !== 'string' || !/^[a-z0-9_:-]{1,32}$/.test(event.channel)))
    return 'channel must be a short name';
  for (const [name, value] of Object.entries(event.data ?? {}) as [string, unknown][]) {
    if (FORBIDDEN_DATA.test(name)) return `data field '${name}' has a name secrets have`;
    // An undefined value is an absent field (canonical JSON leaves it out).
    if (value !== null && !['string', 'number', 'boolean', 'undefined'].includes(typeof value)) return `data field '${name}' is not flat`;
    if (typeof value === 'number' && !Number.isFinite(value)) return `data field '${name}' is not a finite number`;
    if (typeof value === 'string' && (CODE_LIKE.test(value) || SECRET_LIKE.some((p) => p.test(value)) || TOKEN_LIKE(value)))
      return `data field '${name}' looks like it carries a secret or a full phone number`;
  }
  return undefined;
}
