import { createHash, randomInt } from 'node:crypto';

/**
 * The names an approval goes by: its id (random, or derived from the requester's key), the short reference
 * people read, and the reason its Fineract hold carries.
 */

/** References people read: no 0/O or 1/I to confuse. */
const REF_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** The text a hold carries in Fineract (its `reasonForBlock`): names the approval, findable after a timeout. */
export const holdReason = (ref: string) => `Kiunga approval ${ref}`;

/** A random reference, for an approval raised without a key. */
export function newRef(): string {
  let ref = '';
  for (let i = 0; i < 8; i++) ref += REF_ALPHABET[randomInt(REF_ALPHABET.length)];
  return ref;
}

/**
 * The id of the approval a request with `key` raises (`ApprovalRequest.key`): derived, so that whoever holds the
 * key finds it (or voids it) without the requester, and distinct from the key itself (the key may also name a
 * transfer record of the same intent).
 */
export const approvalIdFor = (key: string): string => createHash('sha256').update(`approval:${key}`).digest('hex').slice(0, 32);

/** The ref of an approval whose id was derived from a key: from the id's bytes (the alphabet has 32 letters). */
export function approvalRefOf(id: string): string {
  let ref = '';
  for (let i = 0; i < 8; i++) ref += REF_ALPHABET[parseInt(id.slice(i * 2, i * 2 + 2), 16) % REF_ALPHABET.length];
  return ref;
}
