import { assign } from 'xstate';
import type { z } from 'zod';
import type { FlowContext, FlowEvent, ViewVars } from './types.js';
import { errorOf } from './actor-kit.js';
import { rememberedAccounts, type MenuAccounts } from './registry-money-actions.js';
import { rememberedApprovalMenu, type ApprovalMenu } from './registry-approvals.js';
import { rememberedApplicationMenu, type ApplicationMenu } from './registry-origination.js';
import type { CORE_MANIFESTS, errorIsParams } from './registry-core-manifest.js';

/**
 * The actions and guards of the core part of the setup() registry (its actors are in registry.ts): what
 * finding the customer, the PIN, the menu, balances, the statement and the language keep in the context.
 */

/**
 * What `loadMenu` resolves with: the pending code's answer at the top (`pending`, and the `transfer` it was sent
 * for, so `codePending` and `resumeCode` read it as they read findPendingCode's), the accounts, and the two
 * menu parts (null: unanswered).
 */
export interface MenuOutput {
  pending: boolean;
  accounts: MenuAccounts;
  approvalMenu?: ApprovalMenu | null;
  applicationMenu?: ApplicationMenu | null;
}

/** The core actions and guards; they read nothing but the session's context and the event. */
export function createCoreActions() {
  const actions = {
    rememberCustomer: assign(({ event }: { event: FlowEvent }) => {
      const c = event.output as { clientId: number; displayName: string; firstName?: string; officeId: number };
      const name = c.firstName ?? c.displayName.split(' ')[0] ?? c.displayName;
      return {
        customer: { clientId: c.clientId, name, displayName: c.displayName, officeId: c.officeId },
      } satisfies Partial<FlowContext>;
    }),
    greet: assign(({ context }: { context: FlowContext }) => ({
      view: { ...context.view, name: context.customer?.name ?? '' },
    })),
    rememberMenu: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => {
      const out = event.output as MenuOutput;
      // The three parts in turn, each over what the one before kept; a part left unanswered keeps nothing.
      let kept: Pick<FlowContext, 'data' | 'view'> = rememberedAccounts(context, out.accounts);
      if (out.approvalMenu) kept = rememberedApprovalMenu({ ...context, ...kept }, out.approvalMenu);
      if (out.applicationMenu) kept = { ...kept, ...rememberedApplicationMenu({ ...context, ...kept }, out.applicationMenu) };
      return kept;
    }),
    rememberAttempts: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => ({
      view: { ...context.view, attemptsLeft: Number(errorOf(event)?.details.attemptsLeft ?? 0) },
    })),
    rememberBalances: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => ({
      view: { ...context.view, balances: event.output as ViewVars[] },
    })),
    rememberStatement: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => {
      const out = event.output as { account: string; lines: ViewVars[] };
      return { view: { ...context.view, account: out.account, lines: out.lines } };
    }),
    setLanguage: assign(({ context, event }: { context: FlowContext; event: FlowEvent }) => ({
      lang: typeof event.lang === 'string' ? event.lang : context.lang,
    })),
  } satisfies Record<keyof typeof CORE_MANIFESTS.actions, unknown>;

  const guards = {
    /** True when the actor error has the given code: `{ type: errorIs, params: { code: pin-locked } }`. */
    errorIs: ({ event }: { event: FlowEvent }, params: z.infer<typeof errorIsParams>) => errorOf(event)?.code === params.code,
  } satisfies Record<keyof typeof CORE_MANIFESTS.guards, unknown>;

  return { actions, guards };
}
