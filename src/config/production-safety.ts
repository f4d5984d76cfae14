import type { SimSwapProvider } from './values.js';

/** The production-safety checks (threat T27): what is unsafe against a real Fineract, and the words that accept it. */

/** The unsafe settings KIUNGA_ALLOW_INSECURE can acknowledge. */
export const INSECURE_SETTINGS = ['messaging', 'callback-key', 'fineract-password', 'sim-swap'] as const;
export type InsecureSetting = (typeof INSECURE_SETTINGS)[number];
export const isInsecureSetting = (word: string): word is InsecureSetting => (INSECURE_SETTINGS as readonly string[]).includes(word);

/** The default Fineract password (the demo `mifos` user's). */
const DEFAULT_FINERACT_PASSWORD = 'password';

/**
 * What makes a deployment against a real Fineract unsafe (threat T27), each with the KIUNGA_ALLOW_INSECURE word
 * that accepts it. Never echoes a secret value.
 */
export function unsafeSettings(s: {
  messagingProvider: string | undefined;
  callbackKey: string | undefined;
  fineractPassword: string | undefined;
  simSwapProvider: SimSwapProvider;
}): { word: InsecureSetting; problem: string }[] {
  const out: { word: InsecureSetting; problem: string }[] = [];
  if (s.messagingProvider === 'sandbox') {
    out.push({
      word: 'messaging',
      problem: 'MESSAGING_PROVIDER=sandbox (no SMS or call reaches anyone, and GET /sandbox/outbox shows receipts to anyone)',
    });
  }
  if (!s.callbackKey) {
    out.push({
      word: 'callback-key',
      problem: "AT_CALLBACK_KEY is not set (the Africa's Talking USSD, SMS and voice routes answer anyone who posts to them)",
    });
  }
  if (s.fineractPassword === DEFAULT_FINERACT_PASSWORD) {
    out.push({ word: 'fineract-password', problem: "FINERACT_PASSWORD is Fineract's default password" });
  }
  if (s.simSwapProvider !== 'africastalking') {
    out.push({
      word: 'sim-swap',
      problem: `SIM_SWAP_PROVIDER=${s.simSwapProvider} (no real SIM-swap check before money leaves an account, threat T4)`,
    });
  }
  return out;
}
