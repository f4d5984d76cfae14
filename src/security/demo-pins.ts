/**
 * PINs of the demo customers (README.md, "Demo data"), seeded only when Kiunga runs against its built-in sandbox.
 * Fineract holds no channel PINs; a real deployment enrols customers instead.
 */
export const DEMO_PINS: Readonly<Record<number, string>> = Object.freeze({
  1: '1234', // Amina Wanjiru
  2: '2468', // Baraka Otieno
  3: '1357', // Chanya Mwangi (agent)
  4: '8642', // Duma Traders Ltd
});
