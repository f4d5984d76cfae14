import { createBusinessDate } from './business-date.js';
import { shapeCheckedGet, type ClientCore } from './client-core.js';
import { createCustomerCalls } from './client-customers.js';
import { createHoldCalls } from './client-holds.js';
import { createOriginationCalls } from './client-origination.js';
import { createTransferCalls } from './client-transfers.js';
import { FineractError, FineractUnavailable, OwnershipError } from './errors.js';
import { FineractHttp, type FineractRequester } from './http.js';
import type { Logger } from '../logger.js';
import type { CountryCode } from '../text/phone.js';
import { DEFAULT_TIMEZONE } from '../constants.js';
import type { CallOptions, FineractClient, TransferRequest } from './types.js';

export interface FineractClientOptions {
  /** Base URL including the API path, e.g. `https://host:8443/fineract-provider/api/v1`. */
  baseUrl: string;
  tenant: string;
  username: string;
  password: string;
  /** Deadline of every call. */
  timeoutMs: number;
  /** Country for numbers stored without a country code (`0711000001`). */
  defaultCountry: CountryCode;
  /** Savings products shown on channels; undefined or empty = all. */
  savingsProductIds?: number[];
  /** Loan products shown on channels; undefined or empty = all. */
  loanProductIds?: number[];
  /**
   * The product catalogue's allow-lists (flows/catalogue.yaml): the products some channel shows. Exact, an empty
   * list shows none; when set, savingsProductIds and loanProductIds (the settings' fallback) are not used.
   */
  shownProducts?: { savings: readonly number[]; loans: readonly number[] };
  logger?: Logger;
  /** Request layer to use instead of a direct connection (e.g. a rate-limited gateway); the client closes it. */
  http?: FineractRequester;
  /**
   * A fixed source of the business date `yyyy-mm-dd` (tests); default: read from Fineract (`GET /businessdate`
   * when `enable_business_date` is on, else today in `timeZone`), cached `businessDateTtlMs`.
   */
  today?: () => string;
  /** The Fineract tenant's IANA time zone (`tenants.timezone_id`); default `DEFAULT_TIMEZONE` (Africa/Nairobi). */
  timeZone?: string;
  /** How long a business date read from Fineract is used (default 60,000 ms). */
  businessDateTtlMs?: number;
  /**
   * Page size of `findTransfer`'s search of the source account's debits (default 100, at most 1000). Without
   * `onOrAfter` it looks through this many newest debits only.
   */
  reconcileWindow?: number;
  /** With `onOrAfter`, `findTransfer` reads at most this many pages before it gives up as uncertain (default 50). */
  reconcileMaxPages?: number;
}

/**
 * Typed Fineract calls for the flows. Every method rejects only with a FineractError or OwnershipError. The calls
 * live by area (client-customers.ts, client-transfers.ts, client-holds.ts, client-origination.ts) on one shared
 * core (client-core.ts); this puts them together.
 */
export function createFineractClient(options: FineractClientOptions): FineractClient {
  const http: FineractRequester = options.http ?? new FineractHttp(options);
  const log = options.logger?.child({ component: 'fineract-client' });
  const country = options.defaultCountry;
  const shown = options.shownProducts;
  const savingsProducts = shown ? new Set(shown.savings) : options.savingsProductIds?.length ? new Set(options.savingsProductIds) : null;
  const loanProducts = shown ? new Set(shown.loans) : options.loanProductIds?.length ? new Set(options.loanProductIds) : null;

  const fixedToday = options.today;
  const businessDates = fixedToday
    ? undefined
    : createBusinessDate({
        http,
        timeZone: options.timeZone ?? DEFAULT_TIMEZONE,
        ttlMs: options.businessDateTtlMs,
        logger: options.logger,
      });
  const businessDate = async (): Promise<string> => (fixedToday ? fixedToday() : businessDates!.get());
  const businessDateNow = (): string => (fixedToday ? fixedToday() : businessDates!.current());
  const core: ClientCore = { http, log, country, get: shapeCheckedGet(http), businessDate };

  const customers = createCustomerCalls(core, { savings: savingsProducts, loans: loanProducts });
  const transfers = createTransferCalls(core, customers, options);
  const holds = createHoldCalls(core);
  const origination = createOriginationCalls(core);

  async function getBusinessDate(): Promise<string> {
    return businessDate();
  }

  async function ping(): Promise<void> {
    await http.request('GET', '/offices/1', { query: { fields: 'id' } });
  }

  /** Every method rejects only with the taxonomy; anything else (a bug) becomes FineractUnavailable. */
  const taxonomyOnly =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof FineractError || err instanceof OwnershipError) throw err;
        log?.error({ err }, 'unexpected error in Fineract client');
        throw new FineractUnavailable(`Fineract client failed unexpectedly (${err instanceof Error ? err.name : 'error'})`);
      }
    };

  return {
    findClientByPhone: taxonomyOnly(customers.findClientByPhone),
    getClient: taxonomyOnly(customers.getClient),
    listAccounts: taxonomyOnly(customers.listAccounts),
    getOwnedSavingsAccount: taxonomyOnly(customers.getOwnedSavingsAccount),
    getOwnedLoan: taxonomyOnly(customers.getOwnedLoan),
    transfer: taxonomyOnly((req: TransferRequest, call?: CallOptions) => transfers.transfer(req, false, call)),
    repayLoan: taxonomyOnly(transfers.repayLoan),
    getLoanRepaymentInfo: taxonomyOnly(customers.getLoanRepaymentInfo),
    findTransfer: taxonomyOnly(transfers.findTransfer),
    holdAmount: taxonomyOnly(holds.holdAmount),
    releaseAmount: taxonomyOnly(holds.releaseAmount),
    findHold: taxonomyOnly(holds.findHold),
    hasIdentifier: taxonomyOnly(customers.hasIdentifier),
    findClientByIdentifier: taxonomyOnly(customers.findClientByIdentifier),
    listLoanProducts: taxonomyOnly(origination.listLoanProducts),
    listSavingsProducts: taxonomyOnly(origination.listSavingsProducts),
    createClient: taxonomyOnly(origination.createClient),
    submitLoan: taxonomyOnly(origination.submitLoan),
    findLoanByExternalId: taxonomyOnly(origination.findLoanByExternalId),
    calculateLoanSchedule: taxonomyOnly(origination.calculateLoanSchedule),
    getLoanStatus: taxonomyOnly(origination.getLoanStatus),
    businessDate: taxonomyOnly(getBusinessDate),
    businessDateNow,
    ping: taxonomyOnly(ping),
    close: () => http.close(),
  };
}
