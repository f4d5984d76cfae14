/**
 * The SIM-swap seam (threat T4): before money moves, Kiunga asks whether the customer's SIM changed
 * recently; if so the transfer is refused with a clear screen and the customer is sent to a branch. A
 * fraudster who took over the number then cannot empty the account even with a stolen PIN.
 *
 * Implementations: the sandbox (numbers listed in SANDBOX_SIM_SWAPPED count as freshly swapped), and for
 * production a provider check such as Africa's Talking Insights `checkSimSwapState` (not built here: it needs
 * the live service; plug it in behind this interface).
 */
export interface SimSwapCheck {
  /** True when the number's SIM changed within the institution's window; rejects when unknown (fail closed). */
  recentlySwapped(msisdn: string): Promise<boolean>;
}

/** The sandbox check: a fixed set of numbers whose SIM "just changed". */
export function sandboxSimSwap(swapped: readonly string[]): SimSwapCheck {
  const set = new Set(swapped);
  return { recentlySwapped: async (msisdn) => set.has(msisdn) };
}
