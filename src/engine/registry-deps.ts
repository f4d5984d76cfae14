import type { Logger } from 'pino';
import type { FineractClient } from '../fineract/types.js';
import type { HopContext } from '../session/hop-context.js';
import type { AgentService } from '../agents/agent-service.js';
import type { IdentityService } from '../security/enrolment.js';
import { DEFAULT_COUNTRY, DEFAULT_CURRENCY } from '../constants.js';
import { FlowError, type PinVerifier } from './actor-kit.js';
import type { MoneyDeps } from './registry-money.js';
import type { CallbackRequester } from './registry-callback.js';
import type { ApprovalFlowDeps } from './registry-approvals.js';
import type { OriginationFlowDeps } from './registry-origination.js';
import type { SignupFlowDeps } from './registry-signup.js';

/** What the setup() registry (registry.ts) is built from: each part's services, most of them optional. */

export interface EngineDeps {
  fineract: FineractClient;
  pins: PinVerifier;
  logger: Logger;
  /** Money movements; without them the money actors are still registered but refuse to run. */
  money?: Omit<MoneyDeps, 'fineract' | 'pins' | 'logger'>;
  /** Call-back requests (USSD "Call me back", SMS CALL); without it `requestCallback` answers unavailable. */
  callbacks?: CallbackRequester;
  /** SMS_PIN_ENABLED: `false` refuses every PIN that arrives by SMS, before it is checked (threat T6). */
  smsPinEnabled?: boolean;
  /** Enrolment, PIN changes and self-unlock (threat T11); without it every customer counts as enrolled. */
  identity?: IdentityService;
  /** Agent cash-in and cash-out (issue 11); without it the agent actors answer unavailable. */
  agents?: AgentService;
  /** Approvals and business mandates (issue 11); without them nobody sees a business account or "Approvals". */
  approvals?: Omit<ApprovalFlowDeps, 'pins' | 'logger'>;
  /** Loan applications (issue 12): the SMS status keyword, "My applications" and "Apply for a loan" on USSD. */
  applications?: OriginationFlowDeps['applications'];
  /** The product catalogue (issue 12): the loan products "Apply for a loan" offers; without it none. */
  catalogue?: OriginationFlowDeps['catalogue'];
  /**
   * Starts reading the customer's cached accounts list (the menu's) in the round trip of the PIN check: a
   * plain read of the cache, which never calls Fineract (a wrong PIN, or a flow that shows no such menu,
   * costs that read and nothing else).
   */
  warmAccounts?: (clientId: number, hop: HopContext | undefined) => void;
  /** Sign-up of numbers that are not clients (issue 12, point 2) and the PIN service that keeps their PIN; without them an unknown number is told it is not registered. */
  signup?: { profiles: NonNullable<SignupFlowDeps['profiles']>; pins: NonNullable<SignupFlowDeps['pins']> };
}

/** Used where no money service is wired (tests of read-only flows): every transfer refuses. */
export const MONEY_UNAVAILABLE: Omit<MoneyDeps, 'fineract' | 'pins' | 'logger'> = {
  transfers: {
    checkLimits: async () => undefined,
    execute: async () => {
      throw new FlowError('unavailable');
    },
  } as unknown as MoneyDeps['transfers'],
  secret: 'unused-secret-for-linting-only',
  defaultCountry: DEFAULT_COUNTRY,
  currency: DEFAULT_CURRENCY,
  fallbackBudgetMs: 4000,
  limits: { minCents: 1000, maxCents: 7_000_000, dailyCents: 15_000_000 },
};
