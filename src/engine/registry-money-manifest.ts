import { z } from 'zod';
import { accountVar, amountVar, dateVar, type ManifestSet } from './manifest.js';

/**
 * What the money part of the setup() registry declares (registry-money.ts implements it): the names flow files
 * may use, their params, errors, flags and view variables.
 */

/** What a money journey is for: `usePurpose` sets it, `purposeIs` tests it. */
export const PURPOSES = ['send', 'own', 'loan'] as const;
export type Purpose = (typeof PURPOSES)[number];
/**
 * What a transfer's onDone carries: `done`, `processing` when the outcome will follow by SMS, or `approval` when
 * the source account's mandate holds it for approval (nothing moved yet).
 */
export const TRANSFER_OUTCOMES = ['done', 'processing', 'approval'] as const;

export const purposeParams = z.strictObject({ purpose: z.enum(PURPOSES) });
export const outcomeParams = z.strictObject({ status: z.enum(TRANSFER_OUTCOMES) });
const counterpartyVar = { max: 30, example: 'Akiba Savings Plus 000000000001', description: 'recipient: masked name, account or loan' };
/** What a money actor that moves money after a one-time code may still reject with, besides the code's own. */
const TRANSFER_REFUSALS = ['sim-swap', 'sim-swap-unknown', 'inactive', 'insufficient', 'over-daily', 'money-paused'] as const;

/** Manifests of the money actions, guards and actors. */
export const MONEY_MANIFESTS = {
  actors: {
    loadAccounts: {
      description: "after the PIN: the customer's savings accounts and loans (loadMenu reads them with the menu's other facts)",
    },
    findRecipient: { description: 'finds the customer of the phone number typed', errors: ['unknown-recipient', 'self'] },
    fetchLoan: { description: "reads the customer's loan: next instalment and outstanding amount", errors: ['no-account'] },
    checkAmount: {
      description: 'checks the amount typed against the limits, the balance and, for a loan, what is owed',
      errors: ['amount-low', 'amount-high', 'over-daily', 'above-outstanding', 'inactive', 'insufficient'],
    },
    transferMoney: {
      description:
        'PIN-confirmed transfer of the intent fixed on the confirmation screen, exactly once; resolves { status: done | processing }. ' +
        'When the step-up asks for a code (OTP_THRESHOLD, OTP_NEW_PAYEE, a fresh credential) it moves nothing, sends a code bound to the ' +
        'intent by SMS and rejects with code-required',
      // shown by the turn runner when the hop deadline passes while the transfer runs (threat T29)
      keys: ['transfer.pending'],
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'code-required', 'code-send-limit', ...TRANSFER_REFUSALS],
      code: 'asks',
    },
    transferWithCode: {
      description:
        'checks the one-time code typed against the intent it was sent for (consumed when right), then moves the money exactly once ' +
        'like transferMoney (the PIN was checked before the code was sent); resolves { status: done | processing }',
      keys: ['transfer.pending'],
      errors: ['code-wrong', 'code-exhausted', 'code-expired', 'code-mismatch', ...TRANSFER_REFUSALS],
      code: 'checks',
    },
    resendCode: {
      description: 'sends the open code of the intent again (the same code, at most 3 sends), or a new one once it has expired',
      errors: ['code-send-limit'],
    },
    cancelCode: { description: "revokes the customer's open payment code: nothing can move with it any more" },
    findPendingCode: {
      description:
        'after the PIN: a payment code still open from an earlier session (a redial within its validity); resolves { pending: true | false } ' +
        "(loadMenu reads it with the menu's other facts)",
    },
  },
  actions: {
    rememberAccounts: {
      description: 'keeps the accounts loaded by loadAccounts: which menu items work for this customer',
      flags: {
        hasAccount: 'the customer has a savings account to pay from',
        hasOwnAccounts: 'the customer has more than one savings account',
        hasLoan: 'the customer has a loan and an account to repay it from',
      },
      views: { account: accountVar },
      lists: { ownAccounts: { description: "the customer's other savings accounts", row: { account: accountVar } } },
    },
    usePurpose: {
      description: 'starts a money journey: `{ type: usePurpose, params: { purpose: send } }`',
      params: purposeParams,
      views: { min: amountVar('smallest amount allowed'), max: amountVar('largest amount allowed'), daily: amountVar('daily limit') },
    },
    rememberRecipient: {
      description: 'keeps the recipient found by findRecipient',
      views: {
        counterparty: counterpartyVar,
        phone: { max: 13, example: '+255711000009', description: 'a phone number, masked for display (0711***002)' },
      },
    },
    chooseOwnAccount: { description: 'keeps the own account chosen (choose event index)', views: { counterparty: counterpartyVar } },
    rememberLoan: {
      description: 'keeps the loan read by fetchLoan',
      flags: { hasInstalment: 'the loan has an instalment to pay' },
      views: {
        loan: { max: 12, example: '000000000101', description: 'loan account number' },
        counterparty: counterpartyVar,
        outstanding: amountVar('loan outstanding'),
        instalment: amountVar('next loan instalment'),
        dueDate: dateVar('next instalment due date'),
      },
    },
    useInstalment: { description: 'takes the next instalment as the amount' },
    rememberAmount: {
      description: 'entering the confirmation screen: fixes the money intent (a new idempotency key) with the amount checked',
      views: {
        amount: amountVar('the amount to send'),
        ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
      },
    },
    rememberAmountProblem: {
      description: 'after insufficient: the balance available',
      views: { available: amountVar('available balance') },
    },
    rememberTries: {
      description: 'after code-wrong: how many tries the code has left',
      views: { triesLeft: { max: 1, example: '2', description: 'one-time code tries left' } },
    },
    resumeCode: {
      description:
        'after findPendingCode or loadMenu: the intent the open code was sent for becomes the intent of this session (same idempotency key)',
      views: {
        amount: amountVar('the amount to send'),
        counterparty: counterpartyVar,
        ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
      },
    },
    rememberReceipt: {
      description: "keeps the transfer reference (Kiunga's, also in Fineract's description) or, held for approval, who must approve",
      views: {
        ref: { max: 8, example: 'AB12CD34', description: 'transfer reference shown to customers' },
        approvers: { max: 40, example: 'Nyambura-Wairimu K., Baraka O.', description: 'who must approve (masked names)' },
      },
    },
  },
  guards: {
    purposeIs: {
      description: 'the money journey is for this purpose: `{ type: purposeIs, params: { purpose: loan } }`',
      params: purposeParams,
    },
    outcomeIs: {
      description: "the transfer's outcome on onDone: `{ type: outcomeIs, params: { status: processing } }`",
      params: outcomeParams,
    },
    codePending: {
      description: 'on findPendingCode or loadMenu onDone: a payment code is still open (the redial resumes at the code prompt)',
    },
    moneyOn: { description: 'money movement is switched on (kill switch `money` and `all` on, their state known)' },
  },
} as const satisfies ManifestSet;
