/**
 * Agents of the built-in sandbox's demo data (issue 11): Chanya Mwangi (client 3) keeps a shop with store
 * number 5501 whose float is her savings account 000000003 (id 3). Seeded at start in sandbox mode only, as
 * the demo PINs are; a real deployment registers agents with `PUT /admin/agents/<clientId>`.
 */
export const DEMO_AGENTS = Object.freeze([{ clientId: 3, storeNumber: '5501', floatAccountId: 3, floatAccountNo: '000000003' }]);
