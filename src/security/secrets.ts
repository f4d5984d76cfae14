import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 of the concatenated `parts`, keyed with `key`. */
export function hmacSha256(key: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * A keyed hash (HMAC-SHA256, hex) of `data` under the server secret: lets the engine recognise a value it
 * has seen (the previous USSD `text`, which repeats the PIN) without keeping the value itself. Without the
 * pepper, a copy of Redis reveals nothing about `data`.
 */
export function keyedHash(pepper: string, data: string): string {
  return hmacSha256(pepper, data).toString('hex');
}

// A per-process key: both sides are reduced to fixed-length MACs before comparing, so the comparison time
// depends on neither the content nor the length of the secret (timingSafeEqual needs equal lengths).
const compareKey = randomBytes(32);

/** Compares two strings in constant time, whatever their lengths (callback keys, bearer tokens). */
export function timingSafeEqualStr(a: string, b: string): boolean {
  return timingSafeEqual(hmacSha256(compareKey, a), hmacSha256(compareKey, b));
}

/** `timingSafeEqualStr` against one fixed secret, whose MAC is computed once (a key checked on every request). */
export function secretMatcher(secret: string): (given: string) => boolean {
  const expected = hmacSha256(compareKey, secret);
  return (given) => timingSafeEqual(hmacSha256(compareKey, given), expected);
}
