import type { Redis } from 'ioredis';
import { DEMO_PINS } from '../../src/security/demo-pins.js';
import { SYNTHETIC_PIN } from '../../src/sandbox/synthetic.js';

/**
 * The suite's secret sentinel (issue 10: "no PIN, OTP or token appears in any log line or audit entry
 * across the whole test suite"). Every `LogCapture` and every test server registers what it captured here;
 * every secret a test file comes across is registered too: the demo PINs, each test server's pepper,
 * tokens and keys, every one-time code its SMS outbox received, and the PINs a test sets (`registerSecret`).
 * After each test file, `test/helpers/secret-scan.ts` (a vitest setup file) fails the file when one of
 * those secrets appears in a captured log line, an audit stream entry or a stored session.
 */

/** Where a secret may show up, with the text to search. */
export interface Evidence {
  where: string;
  text: string;
}

const secrets = new Map<string, string>();
const sources: (() => readonly Evidence[])[] = [];
const finalisers: (() => Promise<void>)[] = [];

/** A value that must never be logged, audited or stored in clear (at least 4 characters). */
export function registerSecret(value: string | undefined, label: string): void {
  if (typeof value !== 'string' || value.length < 4) return;
  if (!secrets.has(value)) secrets.set(value, label);
}

/** Something to scan after the file (e.g. a LogCapture's lines). */
export function registerEvidence(source: () => readonly Evidence[]): void {
  sources.push(source);
}

/** Work to run before the scan, while the test's Redis is still there (collect audit entries, sessions, codes). */
export function beforeScan(finaliser: () => Promise<void>): void {
  finalisers.push(finaliser);
}

for (const pin of Object.values(DEMO_PINS)) registerSecret(pin, 'a demo PIN');
registerSecret(SYNTHETIC_PIN, 'the synthetic customers’ PIN');

/**
 * Every 6-digit number standing alone in an SMS text: the one-time codes sent. Digits inside a word are not
 * one: a receipt's reference (`0B645492`, hex) holds a 6-digit run after a letter once in a few transfers.
 */
export function codesIn(text: string): string[] {
  return text.match(/(?<![\dA-Za-z])\d{6}(?![\dA-Za-z])/g) ?? [];
}

/**
 * Finds each registered secret in the evidence. Digit-only secrets (PINs, codes) count only as a word (\w) of
 * their own, not inside a longer number or word: a PIN 1234 inside a timestamp, a session id
 * (`ATUid_..._6b4321`) or a hex hash is chance, while `1*1234`, `"1234"` or `PIN 1234` is a leak. Other
 * secrets count anywhere.
 */
export function findLeaks(evidence: readonly Evidence[], known: ReadonlyMap<string, string> = secrets): string[] {
  const leaks: string[] = [];
  const patterns = [...known].map(([value, label]) => ({
    label,
    test: /^\d+$/.test(value)
      ? (text: string) => new RegExp(`(?<![\\w])${value}(?![\\w])`).test(text)
      : (text: string) => text.includes(value),
  }));
  for (const { where, text } of evidence) {
    for (const p of patterns) if (p.test(text)) leaks.push(`${p.label} in ${where}: ${text.slice(0, 300)}`);
  }
  return leaks;
}

/** Collects, then scans everything registered in this file; returns the leaks found. */
export async function scanForSecrets(): Promise<string[]> {
  for (const finalise of finalisers.splice(0)) await finalise();
  return findLeaks(sources.flatMap((source) => source()));
}

/**
 * Reads what a test server left in Redis under its prefix: the entries of every stream (the audit trail)
 * and every session record, as evidence for the scan.
 */
export async function redisEvidence(redis: Redis, prefix: string): Promise<Evidence[]> {
  const evidence: Evidence[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'stream') {
        for (const [id, fields] of await redis.xrange(key, '-', '+'))
          evidence.push({ where: `stream ${key} ${id}`, text: fields.join(' ') });
      } else if (type === 'string' && key.endsWith(':session')) {
        evidence.push({ where: `session ${key}`, text: (await redis.get(key)) ?? '' });
      }
    }
  } while (cursor !== '0');
  return evidence;
}
