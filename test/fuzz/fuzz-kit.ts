import fc from 'fast-check';
import twilio from 'twilio';
import { expect } from 'vitest';

/**
 * What the fuzz files share: the seed, generators of hostile webhook requests, and the one sender that posts
 * them over real HTTP and holds the property every route owes (issue 13, item 4): an answer, within a bound,
 * that is 2xx (the route's polite reply) or 4xx; never 5xx, never a dropped connection, never a hang.
 *
 * The seed is fixed so that a run is reproducible; `FUZZ_SEED=<n>` explores another part of the space.
 * fast-check names the seed and the counterexample's path when a property fails.
 */

export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_261_203;

/**
 * fast-check parameters for a property of `numRuns` cases. Every property runs on FUZZ_SEED itself, so the
 * seed a failure prints is the one to set; with the `path` it prints as FUZZ_PATH too, the run replays just
 * the smallest failing case (`FUZZ_SEED=<seed> FUZZ_PATH=<path> npx vitest run test/fuzz/<file> -t <name>`).
 */
export function runsOf(numRuns: number): fc.Parameters<unknown> {
  const path = process.env.FUZZ_PATH;
  return { seed: FUZZ_SEED, numRuns, ...(path ? { path } : {}) };
}

/**
 * Cases per property by default, each overridable by its environment variable. Together, 8 channel routes x
 * 800 + 2,000 hook deliveries + 1,000 admin calls + 700 USSD sequences (each of several hops) = 10,100 cases
 * per run: issue 13 asks for at least 10,000 (checked in channel-payloads.test.ts).
 */
export const DEFAULT_RUNS = { channelRoute: 800, hooks: 2_000, admin: 1_000, sessions: 700 } as const;

/**
 * No answer within this long is a hang. HOP_DEADLINE_MS is 4 s and the sandbox answers in milliseconds; the
 * margin is for a machine shared with other work, not a measure of speed.
 */
export const HANG_MS = 20_000;

/**
 * The time a whole property may take. Far above what it needs on an idle machine (seconds), because the CI
 * machine may be shared; it bounds a stuck run, it asserts nothing about speed.
 */
export const FUZZ_TIMEOUT_MS = 240_000;

export const FORM = 'application/x-www-form-urlencoded';

/** Content types a careless or hostile sender uses. */
export const CONTENT_TYPES = [
  FORM,
  `${FORM}; charset=utf-8`,
  `${FORM}; charset=UTF-8`,
  `${FORM}; charset=iso-8859-1`,
  `${FORM}; charset=ebcdic`,
  `${FORM}; charset=utf-16`,
  `${FORM}; charset="`,
  `${FORM};;;`,
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'text/xml',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'garbage',
  '',
] as const;

/** Values with a history of breaking parsers: escapes, prototype names, numbers that are not, controls. */
const NASTY = [
  '',
  ' ',
  '%',
  '%ZZ',
  '%C3%28',
  '\u0000',
  '\u0007',
  '\ufffd',
  '\r\n',
  '\u202e',
  '\u200b',
  '*',
  '#',
  '**',
  '*#*',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '[object Object]',
  '+',
  '-1',
  '0',
  '00',
  '98',
  'NaN',
  'Infinity',
  '1e309',
  '9'.repeat(30),
  '<Response/>',
  ']]>',
  '&amp;',
  '${KEY}',
  "' OR 1=1 --",
  '../../etc/passwd',
];

/** A random field value: short text of every kind (ASCII, graphemes, any code unit), nasty values, long runs. */
export const junk: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('1', '*', '#', '0', 'x'), minLength: 200, maxLength: 2_500 }) },
);

/** A field name: a real one of the route, a prototype name, bracket syntax, or anything. */
export const fieldName = (real: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...real) },
    { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'a[b]', 'a[]', 'a.b', '', '=', '&', 'key') },
    { weight: 2, arbitrary: fc.string({ maxLength: 10 }) },
  );

/** The fields of a form (name and value, in order; a name may repeat). */
export type Entries = [string, string][];

/**
 * A form built from the route's fields: each present with its plausible value most of the time, else a junk
 * value or absent; sometimes a field repeated, sometimes extra random fields.
 */
export function formArb(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<Entries> {
  const names = Object.keys(fields);
  const one = Object.fromEntries(
    names.map((name) => [
      name,
      fc.option(fc.oneof({ weight: 8, arbitrary: fields[name]! }, { weight: 1, arbitrary: junk }), { freq: 15, nil: undefined }),
    ]),
  ) as Record<string, fc.Arbitrary<string | undefined>>;
  return fc
    .record({
      values: fc.record(one),
      extra: fc.oneof(
        { weight: 4, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.array(fc.tuple(fieldName(names), junk), { maxLength: 3 }) },
      ),
    })
    .map(({ values, extra }) => {
      const entries: Entries = [];
      for (const [name, value] of Object.entries(values)) if (value !== undefined) entries.push([name, value]);
      return [...entries, ...(extra as Entries)];
    });
}

/** Bytes that are not valid UTF-8 or not valid form encoding, for splicing into a body. */
const BAD_BYTES: readonly Uint8Array[] = [
  Uint8Array.of(0xff),
  Uint8Array.of(0xc3, 0x28),
  Uint8Array.of(0xed, 0xa0, 0x80), // an encoded lone surrogate
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // past U+10FFFF
  Uint8Array.of(0x00),
  Buffer.from('%FF'),
  Buffer.from('%C3%28'),
  Buffer.from('%ED%A0%80'),
  Buffer.from('%'),
  Buffer.from('%u00e9'),
  Buffer.from('&&&=='),
  Buffer.from('=&='),
];

/** One request to a route, as generated (headers and body only; the route's path and query are added). */
export interface Envelope {
  /** What the body holds, for the statistics. */
  kind: 'form' | 'odd-type' | 'json' | 'bytes' | 'bad-encoding' | 'too-large' | 'too-many' | 'encoded';
  contentType?: string;
  contentEncoding?: string;
  body: Uint8Array;
  /** The form's fields when the body is a well-formed form (what a Twilio signature covers). */
  entries?: Entries;
}

const encode = (entries: Entries) => new URLSearchParams(entries).toString();

/** Every shape of body: mostly well-formed forms (to reach the adapter's logic), then every kind of wrong. */
export function envelopeArb(form: fc.Arbitrary<Entries>): fc.Arbitrary<Envelope> {
  return fc.oneof(
    {
      weight: 14,
      // The entries as the server will read them back (lone surrogates become U+FFFD when encoded).
      arbitrary: form.map((entries): Envelope => ({
        kind: 'form',
        contentType: FORM,
        body: Buffer.from(encode(entries)),
        entries: [...new URLSearchParams(encode(entries))],
      })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(form, fc.constantFrom(...CONTENT_TYPES))
        .map(([entries, contentType]): Envelope => ({ kind: 'odd-type', contentType, body: Buffer.from(encode(entries)) })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(form, fc.jsonValue({ maxDepth: 2 })).map(([entries, value]): Envelope => ({
        kind: 'json',
        contentType: 'application/json',
        body: Buffer.from(JSON.stringify(entries.length % 2 ? Object.fromEntries(entries) : value) ?? 'null'),
      })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.uint8Array({ maxLength: 200 }), fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }))
        .map(([body, contentType]): Envelope => ({ kind: 'bytes', contentType, body })),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(form, fc.constantFrom(...BAD_BYTES), fc.nat()).map(([entries, bad, at]): Envelope => {
        const text = Buffer.from(encode(entries));
        const cut = text.length ? at % (text.length + 1) : 0;
        return { kind: 'bad-encoding', contentType: FORM, body: Buffer.concat([text.subarray(0, cut), bad, text.subarray(cut)]) };
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 16 * 1024 + 1, max: 40 * 1024 })
        .map((n): Envelope => ({ kind: 'too-large', contentType: FORM, body: Buffer.from(`text=${'1'.repeat(n)}`) })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 51, max: 200 }).map((n): Envelope => ({
        kind: 'too-many',
        contentType: FORM,
        body: Buffer.from(Array.from({ length: n }, (_, i) => `f${i}=1`).join('&')),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(form, fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'x-bogus'))
        .map(([entries, contentEncoding]): Envelope => ({
          kind: 'encoded',
          contentType: FORM,
          contentEncoding,
          body: Buffer.from(encode(entries)),
        })),
    },
  );
}

/** What a sent request got back. */
export interface Answer {
  status: number;
  body: string;
  contentType: string;
}

/** How a Twilio request is signed: right (with the route's token), with another token, not at all, or a nonsense header. */
export type Signing = 'valid' | 'forged' | 'none' | 'junk';
export const signingArb: fc.Arbitrary<Signing> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Signing>('valid') },
  { weight: 1, arbitrary: fc.constantFrom<Signing>('forged', 'none', 'junk') },
);

/** Twilio's signature over what the server will parse: the URL it was told it lives at, and the form's fields. */
function signatureOf(token: string, url: string, entries: Entries | undefined): string {
  // Without a prototype: a field may be named `constructor` or `toString`.
  const params = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of entries ?? []) {
    if (name === '' || name === '__proto__') continue; // the form parser (qs) drops both
    const had = params[name];
    params[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return twilio.getExpectedTwilioSignature(token, url, params);
}

export interface SendOptions {
  /** The path and query (`/channels/...?...`). */
  target: string;
  envelope: Envelope;
  /** Twilio routes: how to sign, the token, and PUBLIC_URL. */
  twilio?: { signing: Signing; token: string; publicUrl: string };
  headers?: Record<string, string>;
  method?: string;
}

/** Posts one request over real HTTP; a dropped connection or no answer within HANG_MS fails the property. */
export async function send(base: string, options: SendOptions): Promise<Answer> {
  const { envelope } = options;
  const headers: Record<string, string> = { ...options.headers };
  if (envelope.contentType !== undefined) headers['content-type'] = envelope.contentType;
  if (envelope.contentEncoding !== undefined) headers['content-encoding'] = envelope.contentEncoding;
  const tw = options.twilio;
  if (tw && tw.signing !== 'none') {
    headers['x-twilio-signature'] =
      tw.signing === 'junk'
        ? 'not+a/signature=='
        : signatureOf(tw.signing === 'valid' ? tw.token : `${tw.token}x`, `${tw.publicUrl}${options.target}`, envelope.entries);
  }
  const res = await fetch(`${base}${options.target}`, {
    method: options.method ?? 'POST',
    headers,
    body: options.method === 'GET' || options.method === 'HEAD' ? undefined : (envelope.body as BodyInit),
    signal: AbortSignal.timeout(HANG_MS),
  });
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}

/** The property every route owes: 2xx or 4xx, never 5xx (with the request's shape in the message). */
export function expectPolite(answer: Answer, what: string): void {
  const ok = (answer.status >= 200 && answer.status < 300) || (answer.status >= 400 && answer.status < 500);
  expect(ok, `${what}: ${answer.status} ${answer.body.slice(0, 200)}`).toBe(true);
}

/** Counts of what a property's cases got, by label, to check the fuzzing reached past the door. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
  get(label: string): number {
    return this.counts.get(label) ?? 0;
  }
  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
}

/** Digits (what a keypad sends), optionally with `*` and `#`. */
export const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'), minLength: min, maxLength: max });
