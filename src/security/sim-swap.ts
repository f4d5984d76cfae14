/**
 * The SIM-swap seam (threat T4): before money moves, Kiunga asks whether the customer's SIM changed
 * recently; if so the transfer is refused with a clear screen and the customer is sent to a branch. A
 * fraudster who took over the number then cannot empty the account even with a stolen PIN.
 *
 * Providers (SIM_SWAP_PROVIDER): `sandbox` (numbers listed in SANDBOX_SIM_SWAPPED count as freshly swapped),
 * `africastalking` (AT Insights through the africastalking SDK, `africastalking-sim-swap.ts`) and `none`.
 *
 * The check **fails closed**: a provider that cannot answer (error, timeout, no answer yet, an answer it does
 * not understand) rejects with `SimSwapUnavailable`, and the money journey refuses the transfer with a polite
 * "try again shortly, no money was moved" instead of letting it through.
 */
export interface SimSwapCheck {
  /** True when the number's SIM changed within the institution's window; rejects when unknown (fail closed). */
  recentlySwapped(msisdn: string): Promise<boolean>;
}

/** The check could not tell: money-out is refused (fail closed). `reason` is for logs; it holds no number. */
export class SimSwapUnavailable extends Error {
  constructor(readonly reason: string) {
    super(`SIM-swap check unavailable: ${reason}`);
    this.name = 'SimSwapUnavailable';
  }
}

/** The sandbox check: a fixed set of numbers whose SIM "just changed". */
export function sandboxSimSwap(swapped: readonly string[]): SimSwapCheck {
  const set = new Set(swapped);
  return { recentlySwapped: async (msisdn) => set.has(msisdn) };
}
