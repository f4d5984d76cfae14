import { createFineractClient, type FineractClientOptions } from '../../src/fineract/client.js';
import type { FineractClient, TransferRequest } from '../../src/fineract/types.js';
import { DEMO, DEMO_SAVINGS } from '../../src/sandbox/index.js';

/** What the Fineract client tests share: the demo parties, a client on a sandbox, a transfer request. */

export const BUSINESS_DATE = '2026-11-25';
export const AMINA = { clientId: 1, officeId: 1, accountId: DEMO_SAVINGS.amina.id };
export const BARAKA = { clientId: 2, officeId: 1, accountId: DEMO_SAVINGS.baraka.id };

/** A Fineract client on the sandbox at `baseUrl` with the demo credentials; the caller closes it. */
export function demoClient(baseUrl: string, overrides: Partial<FineractClientOptions> = {}): FineractClient {
  return createFineractClient({
    baseUrl,
    tenant: DEMO.tenant,
    username: DEMO.username,
    password: DEMO.password,
    timeoutMs: 2_000,
    defaultCountry: 'KE',
    ...overrides,
  });
}

/** 500.00 from Amina to Baraka, described and keyed by `ref`. */
export const transferRequest = (ref: string, overrides: Partial<TransferRequest> = {}): TransferRequest => ({
  from: AMINA,
  to: { ...BARAKA, type: 'savings' },
  amount: '500.00',
  description: `Kiunga send ${ref}`,
  idempotencyKey: `idem-${ref}`,
  ...overrides,
});
