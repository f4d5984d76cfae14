import { expect } from 'vitest';

/**
 * Expects `promise` to reject and returns its error, for the tests that check several errors together (no
 * secret in any of them). A single error is checked in place: `await expect(promise).rejects.toMatchObject(...)`.
 */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  await expect(promise).rejects.toBeInstanceOf(Error);
  return promise.then(
    () => {
      throw new Error('unreachable: the promise rejected above');
    },
    (error: Error) => error,
  );
}
