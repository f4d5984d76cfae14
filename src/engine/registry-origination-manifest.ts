import { amountVar, type ManifestSet } from './manifest.js';

/**
 * The manifests of the loan applications part of the setup() registry (registry-origination.ts): each actor's
 * and action's description, errors, flags, view variables and lists, the way flow files may use them.
 */

const refVar = { max: 8, example: 'AB12CD34', description: 'application reference' };
const productVar = { max: 20, example: 'Biashara Loan', description: "the product's display name" };

export const ORIGINATION_MANIFESTS = {
  actors: {
    findApplicant: {
      description:
        "a number that is no (active) client: its completed sign-up (a Kiunga profile), with the profile's language; none: unregistered",
      errors: ['unregistered'],
    },
    loadApplicationStatus: {
      description: "the status of the sender's latest loan applications (the two newest, newest first); none: not-found",
      errors: ['not-found'],
    },
    loadApplicationMenu: {
      description:
        "after the PIN (USSD only): how many loan applications this number has made; unanswered: none shown (loadMenu reads it with the menu's other facts)",
    },
    loadApplications: {
      description: "the customer's newest loan applications (up to 5, newest first); none: not-found",
      errors: ['not-found'],
    },
    loadLoanOffers: {
      description: 'the loan products the catalogue shows on this channel, with their terms, in the customer language; none: not-found',
      errors: ['not-found'],
    },
    checkLoanAmount: {
      description: "the amount typed, inside the chosen product's range in the catalogue; below: amount-low, above: amount-high",
      errors: ['amount-low', 'amount-high', 'not-found'],
    },
    quoteLoan: {
      description: "Fineract's quote (instalment, total) for the product, amount and repayments chosen; also sent by SMS",
      errors: ['not-found'],
    },
    submitApplication: {
      description:
        'PIN-checked: submits the application with the quote shown and runs the automated checks. Resolves { status: review | declined, line }',
      errors: ['pin-wrong', 'pin-locked', 'pin-not-set', 'not-found'],
    },
    withdrawApplication: {
      description:
        'withdraws the application chosen, if it is still before Fineract (submitted or waiting for review); otherwise not-withdrawable',
      errors: ['not-withdrawable', 'not-found'],
    },
  },
  actions: {
    rememberApplicant: {
      description: "speaks the language of the applicant's sign-up (findApplicant)",
    },
    rememberApplicationStatus: {
      description: 'keeps the status lines loadApplicationStatus read',
      views: {
        applications: {
          max: 150,
          example: 'AB12CD34 Biashara Loan KES 10,000.00: waiting for review\nCD34EF56 Biashara Loan KES 5,000.00: loan paid out',
          description: 'one line per application, the two newest first',
        },
      },
    },
    rememberApplicationMenu: {
      description: 'keeps what loadApplicationMenu found',
      flags: {
        hasApplications: 'the number has made a loan application',
        canApply: 'the catalogue shows a loan product on this channel',
      },
    },
    rememberLoanOffers: {
      description: 'keeps the loan products loaded by loadLoanOffers',
      lists: { offers: { description: 'one row per product shown', row: { product: productVar } } },
    },
    chooseLoanOffer: {
      description: 'keeps the product chosen (choose event index) with its range and repayments',
      views: {
        product: productVar,
        min: amountVar('the smallest amount'),
        max: amountVar('the largest amount'),
      },
      lists: {
        repaymentChoices: {
          description: 'the numbers of repayments allowed',
          row: { count: { max: 3, example: '12', description: 'repayments' } },
        },
      },
    },
    rememberLoanAmount: {
      description: 'keeps the amount checkLoanAmount accepted',
      views: { amount: amountVar('the amount applied for') },
    },
    chooseRepayments: {
      description: 'keeps the number of repayments chosen (choose event index)',
      views: { repayments: { max: 3, example: '12', description: 'repayments' } },
    },
    rememberQuote: {
      description: 'keeps the quote quoteLoan read',
      views: { instalment: amountVar('one repayment'), total: amountVar('the total to repay') },
    },
    rememberSubmission: {
      description: 'keeps the status line of the application submitted',
      views: {
        status: {
          max: 140,
          example: 'AB12CD34 Biashara Loan KES 10,000.00: waiting for review',
          description: "the application's status line (with the reason and next step when declined)",
        },
      },
    },
    rememberApplications: {
      description: 'keeps the applications loaded by loadApplications',
      lists: {
        applications: {
          description: 'one row per application, newest first',
          row: { ref: refVar, product: productVar, amount: amountVar('the amount applied for') },
        },
      },
    },
    chooseApplication: {
      description: 'keeps the application chosen (choose event index) and whether it may still be withdrawn',
      flags: { canWithdraw: 'the application chosen has not gone to Fineract yet' },
      views: {
        ref: refVar,
        status: {
          max: 140,
          example: 'AB12CD34 Biashara Loan KES 10,000.00: with the bank, pending approval',
          description: "the application's status line (with the reason and next step when declined)",
        },
      },
    },
  },
  guards: {},
} as const satisfies ManifestSet;
