import { afterEach, beforeEach } from 'vitest';
import { createFineractClient, type FineractClientOptions } from '../../src/fineract/client.js';
import type { FineractClient, TransferRequest } from '../../src/fineract/types.js';
import { DEMO, DEMO_SAVINGS, startSandbox, type Sandbox } from '../../src/sandbox/index.js';

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

/**
 * For every test of the calling file: a fresh sandbox on BUSINESS_DATE and a demo client on it whose today is
 * that date, both closed after the test. `use` receives them so the file keeps them in its own variables.
 */
export function clientForEachTest(use: (sandbox: Sandbox, fineract: FineractClient) => void): void {
  let current: { sandbox: Sandbox; fineract: FineractClient } | undefined;
  beforeEach(async () => {
    const sandbox = await startSandbox({ businessDate: BUSINESS_DATE });
    current = { sandbox, fineract: demoClient(sandbox.url, { today: () => BUSINESS_DATE }) };
    use(current.sandbox, current.fineract);
  });
  afterEach(async () => {
    await current?.fineract.close();
    await current?.sandbox.close();
  });
}
