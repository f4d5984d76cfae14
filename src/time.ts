/**
 * Bounding a wait in time, for any module (a leaf: it imports nothing of src/). The hop deadline itself lives
 * in `limits/deadline.ts`; these are the plain timers around one promise.
 */

/** Waits for `promise` at most `ms`; true when it settled (either way) in time. The timer never outlives the wait. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  // One promise and one timer (it runs on every hop's writes): no race of wrapped promises.
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const settled = () => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
  });
}

/** `promise`, or a rejection with `Error('timeout')` after `ms`. The timer never outlives the promise. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]);
}
