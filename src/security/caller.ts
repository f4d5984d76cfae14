import { currentContext, runInContext } from '../session/hop-context.js';

/**
 * Who the hop being served claims to be: the phone number a channel adapter read from the aggregator's
 * request (for a call-back, the number Kiunga called), carried through async calls the way the hop's
 * deadline is. The PIN service counts wrong PINs against this number as well as against the customer,
 * and tells the customer of a lock by SMS at this number, without every flow actor passing it along.
 */
export interface Caller {
  /** E.164. */
  msisdn: string;
  channel: string;
}

/** Runs `fn` as a hop of `caller` (in the hop's one async context, session/hop-context.ts). */
export function withCaller<T>(caller: Caller, fn: () => Promise<T>): Promise<T> {
  return runInContext({ caller }, fn);
}

/** The caller of the hop being served, or undefined outside a channel hop. */
export function currentCaller(): Caller | undefined {
  return currentContext()?.caller;
}
