import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPromise, type AnyActorLogic, type AnyStateMachine } from 'xstate';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { Conversation } from '../../src/engine/conversation.js';
import { createImplementations, type EngineDeps } from '../../src/engine/registry.js';
import type { LoadedFlow } from '../../src/engine/flow-loader.js';
import type { FineractClient } from '../../src/fineract/types.js';
import { USSD_KEYS } from '../../src/constants.js';
import { LogCapture } from '../helpers/server.js';

/**
 * `loadMenu`, the one invoke after the PIN that reads the menu's four facts at once, in the shipped banking
 * flow: each part keeps the outcome it had as an invoke of its own (accounts unanswered: unavailable; business
 * account, approvals, applications or the open code unanswered: the menu without them; an open code: its prompt).
 * The reads are fakes here because the failures they stand for (a Redis read refused, Fineract down) are the point.
 */

const AMINA = { clientId: 1, displayName: 'Amina Wanjiru', firstName: 'Amina', officeId: 1, active: true };
const ACCOUNTS = {
  savings: [{ id: 1, accountNo: '000000001', productId: 1, productName: 'Akiba Savings' }],
  loans: [{ id: 101, accountNo: '000000101', productId: 2, productName: 'Biashara Loan' }],
};
const OPEN_CODE = {
  intent: {},
  expiresAt: Date.now() + 60_000,
  triesLeft: 3,
  resume: {
    id: 'a'.repeat(32),
    kind: 'send',
    clientId: 1,
    fromAccountId: 1,
    toClientId: 2,
    toOfficeId: 1,
    toAccountId: 2,
    toType: 'savings',
    amountCents: 500_000,
    currency: 'KES',
    counterparty: 'Baraka O.',
  },
};
const MANDATE = { accountNo: '000000004', accountId: 4, clientId: 4, officeId: 1, name: 'Duma Traders Ltd' };
const refused = async (): Promise<never> => {
  throw new Error('connection refused');
};

let services: Services;
let banking: LoadedFlow;
const logs = new LogCapture();

beforeAll(async () => {
  services = await createServices(loadConfig({ LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1' }), createLogger('info', new LogCapture()));
  banking = services.flows.current('banking')!;
});
afterAll(async () => {
  await services?.close();
});

interface Reads {
  accounts: () => Promise<unknown>;
  mandates: () => Promise<unknown[]>;
  waiting: () => Promise<unknown[]>;
  applications: () => Promise<unknown[]>;
  code: () => Promise<unknown>;
}

/** The real loadMenu, built over the given reads, in the banking flow; the customer and the PIN are fakes. */
function bankingWith(reads: Reads): LoadedFlow {
  const deps = {
    fineract: { listAccounts: reads.accounts } as unknown as FineractClient,
    pins: { verify: async () => ({ result: 'ok' as const }) },
    logger: createLogger('warn', logs),
    money: {
      transfers: {} as never,
      secret: 'test-secret-test-secret',
      defaultCountry: 'KE',
      currency: 'KES',
      fallbackBudgetMs: 4000,
      limits: { minCents: 1000, maxCents: 7_000_000, dailyCents: 15_000_000 },
      challenges: { pending: reads.code } as never,
    },
    approvals: { approvals: { waitingFor: reads.waiting } as never, mandates: { initiatorOf: reads.mandates as never }, timeZone: 'UTC' },
    applications: { forApplicant: reads.applications } as never,
  } satisfies EngineDeps;
  const loadMenu = createImplementations(deps).actors.loadMenu;
  const actors: Record<string, AnyActorLogic> = {
    findCustomer: fromPromise(async () => AMINA),
    checkEnrolment: fromPromise(async () => ({ state: 'has-pin' })),
    verifyPin: fromPromise(async () => true),
    loadMenu,
  };
  return { ...banking, machine: banking.machine.provide({ actors } as never) as AnyStateMachine };
}

async function afterPin(reads: Reads) {
  const c = await Conversation.start(
    bankingWith(reads),
    { channel: 'ussd', session: 'test:menu', msisdn: '+254711000001', lang: 'en' },
    Date.now() + 5000,
  );
  await c.apply('1234', USSD_KEYS);
  return c;
}

const answered: Reads = {
  accounts: async () => ACCOUNTS,
  mandates: async () => [MANDATE],
  waiting: async () => [{}, {}],
  applications: async () => [{}],
  code: async () => undefined,
};

describe('loadMenu in the banking flow', () => {
  it('should keep every part of the menu when all four reads answer', async () => {
    const c = await afterPin(answered);
    expect(c.screen().stateId).toBe('banking.menu');
    expect(c.context.data).toMatchObject({ hasAccount: true, hasLoan: true, hasOwnAccounts: false, hasBusiness: true, hasApprovals: true });
    expect(c.context.data).toMatchObject({ hasApplications: true, canApply: false });
    expect(c.context.view).toMatchObject({ account: 'Akiba Savings 000000001', business: 'Duma Traders Ltd', waiting: 2 });
    c.stop();
  });

  it('should show the menu without the business, approvals and applications entries when those reads fail', async () => {
    const c = await afterPin({ ...answered, mandates: refused, waiting: refused, applications: refused, code: refused });
    expect(c.screen().stateId).toBe('banking.menu');
    expect(c.context.data).toMatchObject({ hasAccount: true, hasLoan: true });
    for (const flag of ['hasBusiness', 'hasApprovals', 'hasApplications', 'canApply']) expect(c.context.data[flag]).toBeUndefined();
    c.stop();
  });

  it('should end on the unavailable screen when the accounts cannot be read, whatever the other reads say', async () => {
    const c = await afterPin({ ...answered, accounts: refused });
    expect(c.ended).toBe(true);
    expect(c.screen().stateId).toBe('banking.unavailable');
  });

  it('should resume at the code prompt when a payment code is still open, with the menu facts kept', async () => {
    const c = await afterPin({ ...answered, code: async () => OPEN_CODE });
    expect(c.screen().stateId).toBe('banking.codeResumed');
    expect(c.context.data).toMatchObject({ purpose: 'send', amountCents: 500_000, hasAccount: true, hasApprovals: true });
    c.stop();
  });
});
