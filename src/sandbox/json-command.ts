import { isIsoDate } from './dates.js';
import type { Cents } from './model.js';
import { HttpError } from './router.js';
import { paramError, validationBody, type ParamError } from './serialize.js';

/**
 * A write's JSON body read the way Fineract's `JsonCommand`, `FromJsonHelper` and `DataValidatorBuilder` read
 * it (docs/fineract.md §9): unknown keys are refused all at once (`error.msg.parameter.unsupported`), a date
 * needs `dateFormat` and `locale` (refused at once when missing), a string number needs `locale`, and field
 * rules accumulate `validation.msg.{resource}.{param}.{rule}` errors until `throwIfErrors()`.
 */
export class JsonCommand {
  readonly errors: ParamError[] = [];
  readonly #body: Record<string, unknown>;

  constructor(
    readonly resource: string,
    body: unknown,
    supported: readonly string[],
  ) {
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length === 0) {
      // InvalidJsonException: a bare ApiParameterError, not the global error shape.
      throw new HttpError(400, paramError('error.msg.invalid.request.body', 'Request body is empty or not a JSON object.', 'body'));
    }
    this.#body = body as Record<string, unknown>;
    const unsupported = Object.keys(this.#body).filter((k) => !supported.includes(k));
    if (unsupported.length > 0) {
      throw new HttpError(
        400,
        validationBody(
          unsupported.map((k) => paramError('error.msg.parameter.unsupported', `The parameter ${k} is not supported.`, k, [k])),
        ),
      );
    }
  }

  has(name: string): boolean {
    const v = this.#body[name];
    return v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
  }

  /** The raw value, for `changes` echoes. */
  raw(name: string): unknown {
    return this.#body[name];
  }

  #fail(param: string, rule: string, message: string, value?: unknown): undefined {
    this.errors.push(paramError(`validation.msg.${this.resource}.${param}.${rule}`, message, param, [], value));
    return undefined;
  }

  #blank(param: string): undefined {
    return this.#fail(param, 'cannot.be.blank', `The parameter \`${param}\` is mandatory.`);
  }

  /** `notNull().integerGreaterThanZero()` (or `ignoreIfNull()` when optional). */
  positiveInt(name: string, required: boolean): number | undefined {
    if (!this.has(name)) return required ? this.#blank(name) : undefined;
    const v = this.#body[name];
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) {
      throw new HttpError(
        400,
        validationBody([
          paramError(
            'validation.msg.invalid.integer.format',
            `The parameter ${name} has value: ${String(v)} which is invalid integer value.`,
            name,
            [],
            v,
          ),
        ]),
      );
    }
    if (n <= 0) return this.#fail(name, 'not.greater.than.zero', `The parameter \`${name}\` must be greater than 0.`, n);
    return n;
  }

  /** `isOneOfTheseValues(...)` on a required integer. */
  oneOf<T extends number>(name: string, allowed: readonly T[]): T | undefined {
    const n = this.positiveInt(name, true);
    if (n === undefined) return undefined;
    if (!allowed.includes(n as T)) {
      return this.#fail(
        name,
        'is.not.one.of.expected.enumerations',
        `The parameter \`${name}\` must be one of [ ${allowed.join(', ')} ] .`,
        n,
      );
    }
    return n as T;
  }

  /** `notBlank().notExceedingLengthOf(max)` (or `ignoreIfNull()` when optional). */
  text(name: string, required: boolean, max: number): string | undefined {
    if (!this.has(name)) return required ? this.#blank(name) : undefined;
    const v = this.#body[name];
    const s = typeof v === 'string' ? v : String(v);
    if (s.length > max) return this.#fail(name, 'exceeds.max.length', `The parameter \`${name}\` exceeds max length of ${max}.`, s);
    return s;
  }

  /** A money amount in cents: JSON number, or a string parsed with `locale`; `positiveAmount()`. */
  amount(name: string, required: boolean): Cents | undefined {
    if (!this.has(name)) return required ? this.#blank(name) : undefined;
    const v = this.#body[name];
    let text: string;
    if (typeof v === 'number') {
      text = String(v);
    } else if (typeof v === 'string') {
      const locale = this.#locale();
      const decimalComma = /^(fr|de|es|it|pt|nl|ru|id|tr)/i.test(locale);
      text = v.replace(/[\s\u00a0\u202f]/g, '').replace(decimalComma ? /\./g : /,/g, '');
      if (decimalComma) text = text.replace(',', '.');
    } else {
      text = 'invalid';
    }
    const cents = toCents(text);
    if (cents === null) {
      throw new HttpError(
        400,
        validationBody([
          paramError(
            'validation.msg.invalid.decimal.format',
            `The parameter ${name} has value: ${String(v)} which is invalid decimal value for provided locale.`,
            name,
            [],
            v,
          ),
        ]),
      );
    }
    if (cents <= 0) return this.#fail(name, 'not.greater.than.zero', `The parameter \`${name}\` must be greater than 0.`, v);
    return cents;
  }

  /** A LocalDate as ISO `yyyy-mm-dd`, parsed with the body's `dateFormat` and `locale`. */
  date(name: string, required: boolean): string | undefined {
    if (!this.has(name)) return required ? this.#blank(name) : undefined;
    const v = this.#body[name];
    const format = this.#body.dateFormat;
    if (typeof format !== 'string' || format.trim() === '') {
      throw new HttpError(
        400,
        validationBody([
          paramError(
            'validation.msg.missing.dateFormat.parameter',
            `The parameter '${name}' requires a 'dateFormat' parameter to be passed with it.`,
            name,
          ),
        ]),
      );
    }
    this.#locale();
    const iso = typeof v === 'string' ? parseDate(v, format) : 'invalid-format';
    if (iso === 'invalid-format') {
      throw new HttpError(
        400,
        validationBody([paramError('validation.msg.invalid.dateFormat.format', `Dateformat: ${format} is invalid.`, name, [], format)]),
      );
    }
    if (iso === null) {
      throw new HttpError(
        400,
        validationBody([
          paramError(
            'validation.msg.invalid.date.format',
            `The parameter ${name} is invalid based on the dateFormat: '${format}' and locale provided.`,
            name,
            [],
            v,
          ),
        ]),
      );
    }
    return iso;
  }

  /** The request's locale, required as soon as a date or a string number is read. */
  #locale(): string {
    const locale = this.#body.locale;
    if (typeof locale !== 'string' || locale.trim() === '') {
      throw new HttpError(
        400,
        validationBody([paramError('validation.msg.missing.locale.parameter', "The parameter 'locale' is missing.", 'locale')]),
      );
    }
    if (!/^[a-z]{2,3}([_-][A-Za-z]{2})?$/.test(locale.trim())) {
      throw new HttpError(
        400,
        validationBody([
          paramError(
            'validation.msg.invalid.locale.format',
            `The parameter locale has an invalid language value ${locale} .`,
            'locale',
            [],
            locale,
          ),
        ]),
      );
    }
    return locale.trim();
  }

  throwIfErrors(): void {
    if (this.errors.length > 0) throw new HttpError(400, validationBody(this.errors));
  }
}

/** Decimal text to cents, rounded half-even to 2 places like Fineract's Money; null if not a plain decimal. */
export function toCents(text: string): Cents | null {
  const m = /^(-?)(\d{1,13})(?:\.(\d*))?$/.exec(text);
  if (!m) return null;
  const sign = m[1] === '-' ? -1 : 1;
  const frac = (m[3] ?? '').padEnd(3, '0');
  let cents = Number(m[2]) * 100 + Number(frac.slice(0, 2));
  const rest = frac.slice(2);
  const firstDropped = Number(rest[0]);
  const tail = rest.slice(1).replace(/0/g, '');
  if (firstDropped > 5 || (firstDropped === 5 && (tail !== '' || cents % 2 === 1))) cents += 1;
  return sign * cents;
}

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/**
 * Parses `value` with a java.time pattern subset: `yyyy`/`uuuu`, `MM`/`M`, `MMM`/`MMMM` (English names),
 * `dd`/`d` and literal separators; an optional ` HH:mm:ss` suffix is accepted as Fineract does. Returns the
 * ISO date, null when the value does not match, or `invalid-format` for an unsupported pattern.
 */
export function parseDate(value: string, pattern: string): string | null | 'invalid-format' {
  const tokens = pattern.trim().match(/([yuMd])\1*|[^A-Za-z]+|[A-Za-z]+/g) ?? [];
  let re = '';
  const order: ('y' | 'M' | 'MMM' | 'd')[] = [];
  for (const t of tokens) {
    if (/^[yu]{4}$/.test(t)) {
      re += '(\\d{4})';
      order.push('y');
    } else if (t === 'MM' || t === 'M') {
      re += t === 'MM' ? '(\\d{2})' : '(\\d{1,2})';
      order.push('M');
    } else if (t === 'MMM' || t === 'MMMM') {
      re += '([A-Za-z]{3,9})';
      order.push('MMM');
    } else if (t === 'dd' || t === 'd') {
      re += t === 'dd' ? '(\\d{2})' : '(\\d{1,2})';
      order.push('d');
    } else if (/^[A-Za-z]/.test(t)) return 'invalid-format';
    else re += t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  if (!order.includes('y') || !order.includes('d') || !(order.includes('M') || order.includes('MMM'))) return 'invalid-format';
  const m = new RegExp(`^${re}(?: \\d{2}:\\d{2}:\\d{2})?$`, 'i').exec(value.trim());
  if (!m) return null;
  let y = 0;
  let mo = 0;
  let d = 0;
  order.forEach((kind, i) => {
    const part = m[i + 1] as string;
    if (kind === 'y') y = Number(part);
    else if (kind === 'd') d = Number(part);
    else if (kind === 'M') mo = Number(part);
    else {
      const name = part.toLowerCase();
      mo = MONTHS.findIndex((full) => full === name || (name.length === 3 && full.startsWith(name))) + 1;
    }
  });
  const iso = `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  return isIsoDate(iso) ? iso : null;
}
