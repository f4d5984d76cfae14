import type { FineractClient, LoanStatus } from '../fineract/types.js';
import type { CoreLoanStatus, OriginationCore } from './core.js';

/**
 * The origination port on Kiunga's Fineract client (issue 12). Loan status ids are Fineract's LoanStatus enum
 * (fineract-core/src/main/java/org/apache/fineract/portfolio/loanaccount/domain/LoanStatus.java): 100 submitted and pending approval,
 * 200 approved, 300 active (disbursed), 400 withdrawn by the client, 500 rejected, 600 and up closed.
 */

export interface FineractCoreOptions {
  /** LOAN_APPLICANT_OFFICE_ID: the office new clients are created in. */
  officeId: number;
  /**
   * Fineract's calculateLoanSchedule validates an individual loan's clientId (LoanApplicationValidator
   * .validateForCreate): an applicant who is not a client yet is quoted under this existing client. Nothing is
   * stored by the calculation; the terms are the product's, the same for every client.
   */
  quoteClientId: number;
  /**
   * Forgets what the phone lookup cache remembers for a number (a "no client" entry from the applicant's own
   * sign-up dials), so the client just created is found at the next dial or SMS, not after the entry expires.
   */
  forgetPhone?: (e164: string) => Promise<void>;
}

export function coreStatusOf(statusId: number): CoreLoanStatus {
  if (statusId === 100) return 'pending';
  if (statusId === 200) return 'approved';
  if (statusId === 300) return 'active';
  if (statusId === 400) return 'withdrawn';
  if (statusId === 500) return 'rejected';
  return 'closed';
}

type Client = Pick<
  FineractClient,
  | 'findClientByPhone'
  | 'findClientByIdentifier'
  | 'createClient'
  | 'submitLoan'
  | 'findLoanByExternalId'
  | 'getLoanStatus'
  | 'calculateLoanSchedule'
  | 'listAccounts'
  | 'getLoanRepaymentInfo'
>;

export function fineractCore(client: Client, options: FineractCoreOptions): OriginationCore {
  const status = (l: LoanStatus) => ({ loanId: l.loanId, status: coreStatusOf(l.statusId) });
  return {
    async clientByPhone(e164, call) {
      return (await client.findClientByPhone(e164, call))?.clientId ?? null;
    },
    clientByNationalId: (nationalId, call) => client.findClientByIdentifier(nationalId, call),
    async clientByExternalId() {
      // createClient reads an existing client back by its external id itself (a duplicate is not an error).
      return null;
    },
    async createClient(c) {
      const { clientId } = await client.createClient({
        externalId: c.externalId,
        firstName: c.firstname,
        lastName: c.lastname,
        officeId: options.officeId,
        active: c.active,
        mobileNo: c.mobileNo,
        ...(c.dateOfBirth ? { dateOfBirth: c.dateOfBirth } : {}),
      });
      await options.forgetPhone?.(c.mobileNo);
      return clientId;
    },
    async submitLoan(l) {
      const { loanId } = await client.submitLoan({
        externalId: l.externalId,
        clientId: l.clientId,
        productId: l.productId,
        principalCents: l.principalCents,
        numberOfRepayments: l.repayments,
      });
      return loanId;
    },
    async loanByExternalId(externalId) {
      const found = await client.findLoanByExternalId(externalId);
      return found ? status(found) : null;
    },
    async loanStatus(loanId) {
      return coreStatusOf((await client.getLoanStatus(loanId)).statusId);
    },
    async quote(productId, principalCents, repayments, clientId, call) {
      const q = await client.calculateLoanSchedule(
        {
          clientId: clientId ?? options.quoteClientId,
          productId,
          principalCents,
          numberOfRepayments: repayments,
        },
        call,
      );
      return {
        instalmentCents: q.instalmentCents,
        totalRepaymentCents: q.totalRepaymentCents,
        totalCostCents: q.totalRepaymentCents - principalCents,
        currency: q.currency,
      };
    },
    async openLoans(clientId, call) {
      const { loans } = await client.listAccounts(clientId, call);
      return Promise.all(
        loans
          .filter((l) => l.statusId < 400)
          .map(async (l) => ({
            productId: l.productId,
            overdue: l.statusId === 300 && (await client.getLoanRepaymentInfo(clientId, l.id, call)).totalOverdue > 0,
          })),
      );
    },
  };
}
