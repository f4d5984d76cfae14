import { createHash } from 'node:crypto';

/**
 * Canonical JSON for audit entries and checkpoints: object keys sorted by code unit, no whitespace, `undefined`
 * members left out, strings and numbers as `JSON.stringify` writes them. Two writers that hold the same facts
 * produce the same bytes, so an entry's hash depends only on what it says. Audit values are flat (strings,
 * finite numbers, booleans, null, and one level of objects), so this is RFC 8785 for the values it meets;
 * a non-finite number is refused rather than written as `null`.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      // The default sort compares by UTF-16 code unit, as canonical JSON orders keys; one loop, no closures.
      const object = value as Record<string, unknown>;
      const names = Object.keys(object).sort();
      let text = '';
      for (const name of names) {
        const member = object[name];
        if (member === undefined) continue;
        text += `${text === '' ? '' : ','}${JSON.stringify(name)}:${canonicalJson(member)}`;
      }
      return `{${text}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** SHA-256 of a text, as 64 lowercase hex characters. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
