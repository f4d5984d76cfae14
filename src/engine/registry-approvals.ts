import { assign, type AnyActorLogic } from 'xstate';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ApprovalRecord, ApprovalService, DecisionResult } from '../approvals/approval.js';
import { REJECT_REASONS } from '../approvals/approval-service.js';
import type { Mandate } from '../approvals/mandates.js';
import { MoneyPaused } from '../money/transfer-types.js';
import { actor, checkPin, FlowError, requireCustomer, type PinVerifier } from './actor-kit.js';
import { startRead, takeRead, type HopContext } from '../session/hop-context.js';
import type { FlowContext, FlowEvent, LostConfirmationAnswer, ViewVars } from './types.js';
import { amountVar, type ManifestSet } from './manifest.js';

/**
 * The approvals part of the setup() registry (issue 11, threat T15): the business accounts a customer may pay
 * from as an initiator of their mandate, and "Approvals": every request waiting for this customer (a payment
 * from a business account, an agent's cash-out), newest first, expired ones never shown; approve with the
 * PIN (lockout applies), or reject with a reason from a short list. Screens state only what is known: an
 * approval whose transfer is still on its way says so, never "done".
 */

export interface ApprovalFlowDeps {
  approvals?: ApprovalService;
  /** The mandates this customer may raise payments under (their initiators' menu entry). */
  mandates?: { initiatorOf(clientId: number): Promise<Mandate[]> };
  pins: PinVerifier;
  logger: Logger;
  /** TIMEZONE: expiry times on screen are local. */
  timeZone: string;
  /** Money switched off: no approval that would move money is taken. */
  moneyAllowed?: () => boolean;
}

/** What a decision's onDone carries, for `decisionIs`. */
export const DECISIONS = ['done', 'processing', 'pending', 'failed', 'rejected'] as const;
const decisionParams = z.strictObject({ status: z.enum(DECISIONS) });
const kindParams = z.strictObject({ kind: z.enum(['mandate', 'cash-out']) });

const labelVar = (description: string) => ({ max: 20, example: 'Nyambura-Wairimu K.', description });
const timeVar = { max: 12, example: '30/12 14:30', description: 'expiry: local time today, or date and time' };
const refVar = { max: 8, example: 'AB12CD34', description: 'approval reference' };

/** Manifests of the approval actions, guards and actors. */
export const APPROVAL_MANIFESTS = {
  actors: {
    loadApprovalMenu: {
      description:
        'after the PIN (USSD only): the business account this customer raises payments from, and how many approvals wait for them ' +
        "(loadMenu reads them with the menu's other facts)",
    },
    loadApprovals: {
      description: 'the approvals waiting for this customer, newest first, expired ones left out; none (any more): approval-closed',
      errors: ['approval-closed'],
    },
    approveRequest: {
      description:
        'PIN-checked approval of the chosen request; the last approval needed executes it once. Resolves { status: done | processing | pending | failed }',
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'own-request', 'already-approved', 'approval-closed', 'money-paused'],
    },
    rejectRequest: {
      description:
        'PIN-checked rejection of the chosen request with the reason chosen; its hold is released. Resolves { status: rejected }',
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'own-request', 'approval-closed'],
    },
  },
  actions: {
    rememberApprovalMenu: {
      description: 'keeps what loadApprovalMenu found',
      flags: {
        hasBusiness: 'the customer is an initiator of a business account mandate',
        hasApprovals: 'approvals wait for the customer',
      },
      views: {
        business: { max: 30, example: 'Duma Traders and General Suppl', description: "the business account's owner name" },
        waiting: { max: 3, example: '12', description: 'approvals waiting' },
      },
    },
    useBusiness: {
      description: 'after usePurpose: the money journey pays from the business account (the mandate decides who approves)',
      views: { account: { max: 30, example: 'Duma Traders and General 000000004', description: 'business name and account number' } },
    },
    rememberApprovals: {
      description: 'keeps the approvals loaded by loadApprovals',
      lists: {
        approvals: {
          description: 'one row per approval waiting, newest first',
          row: {
            amount: amountVar('the amount asked'),
            payee: labelVar('who gets the money'),
            requester: labelVar('who asks'),
            expires: timeVar,
          },
        },
      },
    },
    chooseApproval: {
      description: 'keeps the approval chosen (choose event index)',
      views: {
        amount: amountVar('the amount asked'),
        fee: amountVar('the fee, if any'),
        source: { max: 30, example: 'Duma Traders and General Suppl', description: 'the account paying' },
        payee: labelVar('who gets the money'),
        requester: labelVar('who asks'),
        expires: timeVar,
        ref: refVar,
      },
    },
    chooseRejectReason: {
      description:
        'keeps the reason of the option chosen (its `params: { reason: wrong-amount }`: not-agreed, wrong-amount, wrong-payee, other)',
    },
    rememberDecision: {
      description: 'keeps the outcome of approveRequest or rejectRequest',
      views: {
        ref: refVar,
        left: { max: 2, example: '2', description: 'approvals still needed' },
      },
    },
  },
  guards: {
    approvalKindIs: {
      description: 'the approval chosen is of this kind: `{ type: approvalKindIs, params: { kind: cash-out } }`',
      params: kindParams,
    },
    decisionIs: {
      description: "the decision's outcome on onDone: `{ type: decisionIs, params: { status: pending } }`",
      params: decisionParams,
    },
  },
} as const satisfies ManifestSet;

type Ctx = { context: FlowContext; event: FlowEvent };

/** What the menu shows of business payments and approvals (`loadApprovalMenu`, `loadMenu`). */
export interface ApprovalMenu {
  business: { accountNo: string; accountId: number; clientId: number; officeId: number; name: string } | null;
  waiting: number;
}

/** What `rememberApprovalMenu` (and `rememberMenu`) keep: `hasBusiness`, `hasApprovals`, the business and the count. */
export function rememberedApprovalMenu(context: FlowContext, out: ApprovalMenu): Pick<FlowContext, 'data' | 'view'> {
  return {
    data: {
      ...context.data,
      businessSource: out.business ? JSON.stringify(out.business) : null,
      hasBusiness: out.business !== null,
      hasApprovals: out.waiting > 0,
    },
    view: { ...context.view, business: out.business?.name ?? '', waiting: out.waiting },
  };
}

/**
 * A retry of an approver's PIN hop whose first run still holds the session lock (its process died, or it is
 * slow; threat T29): the last approval executes the payment, so once this approver's approval is recorded the
 * retry answers what the approval's record knows, never "try again": sent, not sent, being processed (the
 * execution's own SMS tells every approver the outcome), or waiting for others. Undefined when nothing of this
 * approver was recorded, or the request ended otherwise: nothing moves unless they approve (an approval
 * executes once), so the retry's polite end stays true.
 */
export async function tellLostApproval(
  approvals: Pick<ApprovalService, 'get'> | undefined,
  context: FlowContext,
): Promise<LostConfirmationAnswer | undefined> {
  const id = context.data.approvalId;
  const approver = context.customer?.clientId;
  if (!approvals || typeof id !== 'string' || approver === undefined) return undefined;
  const record = await approvals.get(id);
  if (!record || !record.approvedBy.includes(approver)) return undefined;
  const vars = { ref: record.ref };
  switch (record.state) {
    case 'executed':
      return { key: 'approvals.done', vars };
    case 'failed':
      return { key: 'approvals.failed', vars };
    case 'approved':
    case 'executing':
      return { key: 'approvals.processing', vars };
    case 'pending':
      return { key: 'approvals.pending', vars: { ...vars, left: String(record.required - record.approvedBy.length) } };
    default:
      return undefined;
  }
}

export function createApprovalImplementations(deps: ApprovalFlowDeps) {
  const { logger } = deps;
  const service = () => {
    if (!deps.approvals) throw new FlowError('unavailable');
    return deps.approvals;
  };

  /** "14:30" today, "30/12 14:30" on another day, in the institution's time zone. */
  const expiry = (lang: string, at: number) => {
    const zone = deps.timeZone;
    const day = (t: number) =>
      new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);
    const time = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
    if (day(at) === day(Date.now())) return time;
    const [, m, d] = day(at).split('-');
    return `${d}/${m} ${time}`;
  };

  const row = (r: ApprovalRecord, lang: string): ViewVars => ({
    id: r.id,
    kind: r.kind,
    amount: { amount: r.intent.amountCents / 100, currency: r.intent.currency },
    fee: { amount: (r.feeCents ?? 0) / 100, currency: r.intent.currency },
    source: r.intent.senderLabel ?? '',
    payee: r.intent.counterparty,
    requester: r.requester.label,
    expires: expiry(lang, r.expiresAt),
    ref: r.ref,
  });

  /** The approval chosen in this session, for this customer only. */
  const chosen = (context: FlowContext) => {
    const id = String(context.data.approvalId ?? '');
    if (!/^[0-9a-f]{32}$/.test(id)) throw new FlowError('approval-closed');
    return id;
  };

  const refusal = (result: Extract<DecisionResult, { outcome: 'refused' }>): FlowError => {
    if (result.reason === 'own-request') return new FlowError('own-request');
    if (result.reason === 'already-approved') return new FlowError('already-approved');
    if (result.reason === 'not-approver') return new FlowError('forbidden');
    // A cash-out approved without the store number typed first: the same answer as a wrong store number.
    if (result.reason === 'unconfirmed') return new FlowError('store-wrong');
    return new FlowError('approval-closed');
  };

  /** What the menu shows of business payments and approvals (USSD only); read early while the PIN is checked. */
  const approvalMenu = async (context: FlowContext): Promise<ApprovalMenu> => {
    const customer = requireCustomer(context);
    // A business payment and its approvals need the USSD menus (a voice call or an SMS has no such screens).
    if (context.channel !== 'ussd' || !deps.approvals) return { business: null, waiting: 0 };
    // Both at once: one round trip.
    const [mandates, records] = await Promise.all([
      deps.mandates?.initiatorOf(customer.clientId),
      deps.approvals.waitingFor(customer.clientId),
    ]);
    const business = mandates?.[0];
    const waiting = records.length;
    return {
      business: business
        ? {
            accountNo: business.accountNo,
            accountId: business.accountId,
            clientId: business.clientId,
            officeId: business.officeId,
            name: business.name,
          }
        : null,
      waiting,
    };
  };

  const actors = {
    loadApprovalMenu: actor(logger, 'loadApprovalMenu', async ({ context }, { hop }) =>
      takeRead(hop, 'loadApprovalMenu', () => approvalMenu(context)),
    ),
    loadApprovals: actor(logger, 'loadApprovals', async ({ context }) => {
      const customer = requireCustomer(context);
      const rows = (await service().waitingFor(customer.clientId)).map((r) => row(r, context.lang));
      // Decided or expired since the menu was shown: say there is nothing left rather than an empty list.
      if (rows.length === 0) throw new FlowError('approval-closed');
      return rows;
    }),
    approveRequest: actor(logger, 'approveRequest', async ({ context, event }, { hop }) => {
      const customer = requireCustomer(context);
      const id = chosen(context);
      if (deps.moneyAllowed && !deps.moneyAllowed()) throw new FlowError('money-paused');
      await checkPin(deps.pins, customer.clientId, event, hop);
      const result = await service()
        .approve(id, customer.clientId, hop)
        .catch((error: unknown) => Promise.reject(error instanceof MoneyPaused ? new FlowError('money-paused') : error));
      switch (result.outcome) {
        case 'executed':
          return { status: 'done', ref: result.approval.ref };
        case 'processing':
          return { status: 'processing', ref: result.approval.ref };
        case 'pending':
          return { status: 'pending', ref: result.approval.ref, left: result.approval.required - result.approval.approvedBy.length };
        case 'failed':
          return { status: 'failed', ref: result.approval.ref, reason: result.reason };
        case 'refused':
          throw refusal(result);
        default:
          throw new FlowError('approval-closed');
      }
    }),
    rejectRequest: actor(logger, 'rejectRequest', async ({ context, event }, { hop }) => {
      const customer = requireCustomer(context);
      const id = chosen(context);
      await checkPin(deps.pins, customer.clientId, event, hop);
      const reason = String(context.data.rejectReason ?? 'other');
      const result = await service().reject(
        id,
        customer.clientId,
        (REJECT_REASONS as readonly string[]).includes(reason) ? reason : 'other',
        hop,
      );
      if (result.outcome === 'refused') throw refusal(result);
      if (result.outcome !== 'rejected') throw new FlowError('approval-closed');
      return { status: 'rejected', ref: result.approval.ref };
    }),
  } satisfies Record<keyof typeof APPROVAL_MANIFESTS.actors, AnyActorLogic>;

  const actions = {
    rememberApprovalMenu: assign(({ context, event }: Ctx) => rememberedApprovalMenu(context, event.output as ApprovalMenu)),
    useBusiness: assign(({ context }: Ctx) => {
      const source =
        typeof context.data.businessSource === 'string'
          ? (JSON.parse(context.data.businessSource) as { name: string; accountNo: string })
          : undefined;
      return {
        data: { ...context.data, business: context.data.businessSource ?? null },
        view: { ...context.view, account: source ? `${source.name} ${source.accountNo}`.slice(0, 30) : '' },
      };
    }),
    rememberApprovals: assign(({ context, event }: Ctx) => ({
      view: { ...context.view, approvals: event.output as ViewVars[] },
    })),
    chooseApproval: assign(({ context, event }: Ctx) => {
      const rows = context.view.approvals;
      const picked = Array.isArray(rows) ? rows[Number(event.index)] : undefined;
      return {
        data: { ...context.data, approvalId: picked ? String(picked.id) : null, approvalKind: picked ? String(picked.kind) : null },
        view: {
          ...context.view,
          amount: picked?.amount ?? '',
          fee: picked?.fee ?? '',
          source: picked?.source ?? '',
          payee: picked?.payee ?? '',
          requester: picked?.requester ?? '',
          expires: picked?.expires ?? '',
          ref: picked?.ref ?? '',
        },
      };
    }),
    chooseRejectReason: assign(({ context, event }: Ctx) => {
      const reason = String((event as { reason?: unknown }).reason ?? 'other');
      return { data: { ...context.data, rejectReason: (REJECT_REASONS as readonly string[]).includes(reason) ? reason : 'other' } };
    }),
    rememberDecision: assign(({ context, event }: Ctx) => {
      // Why a payment was not sent goes by SMS (approval.reason.*); the screen says only that nothing moved.
      const out = event.output as { ref: string; left?: number };
      return { view: { ...context.view, ref: out.ref, left: out.left ?? '' } };
    }),
  } satisfies Record<keyof typeof APPROVAL_MANIFESTS.actions, unknown>;

  const guards = {
    // On the PICK event the row picked decides (chooseApproval runs after the guard); later, the one kept.
    approvalKindIs: ({ context, event }: Ctx, params: z.infer<typeof kindParams>) => {
      const rows = context.view.approvals;
      const picked = typeof event.index === 'number' && Array.isArray(rows) ? rows[event.index] : undefined;
      return (picked ? picked.kind : context.data.approvalKind) === params.kind;
    },
    decisionIs: ({ event }: Ctx, params: z.infer<typeof decisionParams>) => (event.output as { status?: string })?.status === params.status,
  } satisfies Record<keyof typeof APPROVAL_MANIFESTS.guards, unknown>;

  return {
    actors,
    actions,
    guards,
    warm: (context: FlowContext, hop: HopContext | undefined) => startRead(hop, 'loadApprovalMenu', () => approvalMenu(context)),
    /** The read `loadMenu` makes (taken from the PIN hop's early read when there is one). */
    menuRead: (context: FlowContext, hop: HopContext | undefined) => takeRead(hop, 'loadApprovalMenu', () => approvalMenu(context)),
  };
}
