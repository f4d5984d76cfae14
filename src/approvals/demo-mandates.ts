import type { MandateInput } from './mandates.js';

/**
 * Sandbox demo data (README "Demo data"): Duma Traders Ltd (client 4, savings `000000004`) pays only when Amina
 * (client 1) raises a payment and Baraka (client 2) approves it, whatever the amount. Seeded at start in sandbox
 * mode, unless the account has a mandate already (an operator's change survives a restart).
 */
export const DEMO_MANDATES: readonly { accountNo: string; mandate: MandateInput }[] = [
  { accountNo: '000000004', mandate: { clientId: 4, initiators: [1], approvers: [2], rules: [{ minCents: 0, required: 1 }] } },
];
