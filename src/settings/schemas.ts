import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/*
 * The schemas the settings of each area (the other files of src/settings/) are read with, and the parsers
 * config.ts and config/ share.
 */

export const csv = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** A whole number from `min` to `max`, written in digits. */
export const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

export const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL (${protocols.join(' or ')})`,
    );

/** Comma-separated product ids; empty means every product. */
export const productIds = z
  .string()
  .transform(csv)
  .refine((ids) => ids.every((id) => /^\d+$/.test(id)), 'must be comma-separated product ids')
  .transform((ids) => ids.map(Number));

/** true or false (also 1/0, yes/no, any case). */
export const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The Ed25519 key an audit key setting holds (PEM, or DER in base64), or undefined; never echoes it. */
export function ed25519Key(text: string, kind: 'private' | 'public'): KeyObject | undefined {
  try {
    const trimmed = text.trim();
    const pem = trimmed.startsWith('-----BEGIN');
    const key =
      kind === 'private'
        ? createPrivateKey(pem ? { key: trimmed, format: 'pem' } : { key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' })
        : createPublicKey(pem ? { key: trimmed, format: 'pem' } : { key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the text holds an Ed25519 key of that kind. */
export const isEd25519 = (text: string, kind: 'private' | 'public') => ed25519Key(text, kind) !== undefined;

/** One documented setting: its schema, default and help text. */
export interface Setting {
  help: string;
  default?: string;
  /** Reads the variable's text (after the default is applied). */
  schema: z.ZodType<unknown, string>;
  secret?: boolean;
}
