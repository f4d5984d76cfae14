import { z } from 'zod';
import { DEFAULT_COUNTRY } from '../constants.js';
import { int, bool, type Setting } from './schemas.js';

/**
 * Approvals, agents' cash-out and loan origination (issues 11 and 12), and the USSD code SMS texts tell people
 * to dial.
 */
export const BUSINESS_SETTINGS = {
  APPROVAL_DEFAULT_EXPIRY_S: {
    help:
      'How long an approval waits for its approvers when its mandate names no expiry (issue 11): then it expires, ' +
      'its hold is released and everyone concerned is told. A warning SMS goes out at 80% of it (at most an hour before).',
    default: '86400',
    schema: int(60, 30 * 86_400),
  },
  AGENT_CASHOUT_EXPIRY_S: {
    help:
      'How long a cash-out request waits for the customer to confirm it on their own phone (issue 11, threat T32): ' +
      'then it expires, the hold on their savings is released and nothing moves.',
    default: '300',
    schema: int(60, 3600),
  },
  AGENT_CASHOUT_ID_CHECK: {
    help:
      "true: before a cash-out request the agent keys the customer's ID number, which must be one of the client's " +
      "active identifiers in Fineract (threat T32: the customer's own ID, not merely a valid one; two tries). " +
      'The service account then also needs READ_CLIENTIDENTIFIER.',
    default: 'false',
    schema: bool,
  },
  LOAN_APPLICANT_CLIENT_ACTIVE: {
    help:
      'Issue 12: an approved applicant who is not a client yet becomes a Fineract client (externalId = the Kiunga ' +
      'profile id) that is active (true) or pending activation (false). Fineract takes loans only from active ' +
      'clients: with false, the application waits, approved, until the client is activated in Fineract, then the ' +
      'status job submits its loan.',
    default: 'true',
    schema: bool,
  },
  LOAN_APPLICANT_OFFICE_ID: {
    help: 'Issue 12: the Fineract office new clients from sign-up are created in.',
    default: '1',
    schema: int(1, Number.MAX_SAFE_INTEGER),
  },
  LOAN_QUOTE_CLIENT_ID: {
    help:
      "Issue 12: Fineract's calculateLoanSchedule validates the loan as a submission, which needs an existing, active " +
      'client (LoanApplicationValidator), so an applicant who is not a client yet is quoted under this client (nothing ' +
      'is stored; the terms are the same for everyone). Pick an active client in an office that may sell the ' +
      "catalogue's loan products; quotes fail while it is closed or inactive (docs/fineract.md, section 5.3).",
    default: '1',
    schema: int(1, Number.MAX_SAFE_INTEGER),
  },
  LOAN_STATUS_POLL_S: {
    help:
      "Issue 12: how often Fineract's status of applied-for loans (approved, disbursed, rejected) is read, and " +
      'approved applications not sent yet are sent again. With the Fineract hook registered for the LOAN events ' +
      '(README, Fineract hooks) a change is mirrored at once and the poll is only the fallback.',
    default: '60',
    schema: int(5, 86_400),
  },
  SIGNUP_COUNTRY: {
    help: 'Issue 12: the country (ISO 3166 alpha-2) whose national ID rule sign-up applies (KE: 7 or 8 digits).',
    default: DEFAULT_COUNTRY,
    schema: z.enum([DEFAULT_COUNTRY]),
  },
  USSD_SERVICE_CODE: {
    help: 'The USSD code SMS texts tell customers to dial (approvals: "Dial *384*123# > Approvals").',
    default: '*384*123#',
    schema: z.string().regex(/^\*[0-9*]{1,20}#$/, 'must be a USSD code such as *384*123#'),
  },
} satisfies Record<string, Setting>;
