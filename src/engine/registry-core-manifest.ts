import { z } from 'zod';
import { MONEY_MANIFESTS } from './registry-money-manifest.js';
import { APPROVAL_MANIFESTS } from './registry-approvals.js';
import { ORIGINATION_MANIFESTS } from './registry-origination.js';
import { errorCodeParam } from './actor-kit.js';
import { accountVar, amountVar, dateVar, type ManifestSet } from './manifest.js';

/**
 * The manifests of the core part of the setup() registry (registry.ts): finding the customer, the PIN, the
 * menu after it, balances, the statement and the language.
 */

export const errorIsParams = z.strictObject({ code: errorCodeParam });

/** Manifests of the core actions, guards and actors (customer, PIN, balances, statement, language). */
/** A statement's rows, as the core flows' and the agents' statements keep them. */
export const STATEMENT_LINES = {
  description: 'one row per transaction, newest first',
  row: {
    date: dateVar('a date (dd/mm/yyyy)'),
    sign: { max: 1, example: '-', description: '+ for credits, - for debits' },
    amount: amountVar('the amount of the transaction'),
  },
};

export const CORE_MANIFESTS = {
  actors: {
    findCustomer: { description: "finds the customer by the session's phone number", errors: ['unregistered', 'inactive'] },
    verifyPin: {
      description: 'checks the PIN typed (or sent by SMS) for the customer',
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'sms-pin-off'],
    },
    loadMenu: {
      description:
        "after the PIN, what the menu needs, read at once: the customer's accounts (unanswered: the actor fails), the business " +
        'account and approvals waiting (issue 11, USSD only), loan applications and products (issue 12, USSD only) and a payment ' +
        'code still open from an earlier session; those three unanswered: left out (no entry, no code). Resolves ' +
        '{ pending: true | false, ... } (test it with codePending)',
    },
    fetchBalances: { description: "reads the customer's savings balances" },
    fetchStatement: { description: 'reads the last 10 transactions of the primary savings account' },
  },
  actions: {
    rememberCustomer: { description: 'keeps the customer found by findCustomer' },
    greet: {
      description: "puts the customer's first name in the view",
      views: { name: { max: 20, example: 'Nyambura-Wairimu Kam', description: "customer's first name" } },
    },
    rememberMenu: {
      description:
        'keeps what loadMenu found, as rememberAccounts, rememberApprovalMenu and rememberApplicationMenu do: which menu items work for this customer',
      flags: {
        ...MONEY_MANIFESTS.actions.rememberAccounts.flags,
        ...APPROVAL_MANIFESTS.actions.rememberApprovalMenu.flags,
        ...ORIGINATION_MANIFESTS.actions.rememberApplicationMenu.flags,
      },
      views: { ...MONEY_MANIFESTS.actions.rememberAccounts.views, ...APPROVAL_MANIFESTS.actions.rememberApprovalMenu.views },
      lists: { ...MONEY_MANIFESTS.actions.rememberAccounts.lists },
    },
    rememberAttempts: {
      description: 'after pin-wrong: how many PIN attempts are left',
      views: { attemptsLeft: { max: 1, example: '9', description: 'PIN attempts left' } },
    },
    rememberBalances: {
      description: 'keeps the balances fetched by fetchBalances',
      lists: {
        balances: {
          description: 'one row per savings account',
          row: { account: accountVar, amount: amountVar('available balance of the account') },
        },
      },
    },
    rememberStatement: {
      description: 'keeps the statement fetched by fetchStatement',
      views: { account: accountVar },
      lists: { lines: STATEMENT_LINES },
    },
    setLanguage: { description: "switches the session's language to the option's `lang` param" },
  },
  guards: {
    errorIs: { description: 'the actor failed with this code: `{ type: errorIs, params: { code: pin-locked } }`', params: errorIsParams },
  },
} as const satisfies ManifestSet;
