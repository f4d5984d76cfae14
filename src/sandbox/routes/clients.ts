import { displayName, type Bank } from '../bank.js';
import type { ClientRecord, LoanRecord, SavingsAccountRecord } from '../model.js';
import { loanOutstanding } from '../loan-schedule.js';
import { HttpError, boolParam, intParam, ok, type Route } from '../router.js';
import {
  accountTypeIndividual,
  clientStatus,
  currencyData,
  decimal6,
  depositType,
  loanStatus,
  localDate,
  money,
  nonEmpty,
  notFoundBody,
  savingsStatus,
  savingsSubStatusNone,
} from '../serialize.js';

/** ClientData as `GET /clients/{id}` renders it (docs/fineract.md §2). */
export function clientView(bank: Bank, c: ClientRecord): Record<string, unknown> {
  const office = bank.office(c.officeId);
  return {
    id: c.id,
    accountNo: c.accountNo,
    externalId: c.externalId,
    status: clientStatus(c.statusId),
    active: c.statusId === 300,
    activationDate: localDate(c.activationDate),
    firstname: c.firstname,
    lastname: c.lastname,
    fullname: c.fullname,
    displayName: displayName(c),
    mobileNo: c.mobileNo,
    dateOfBirth: localDate(c.dateOfBirth),
    officeId: c.officeId,
    officeName: office?.name,
    timeline: {
      submittedOnDate: localDate(c.submittedOnDate),
      activatedOnDate: localDate(c.activationDate),
      closedOnDate: localDate(c.closedOnDate),
    },
    legalForm:
      c.legalFormId === 1
        ? { id: 1, code: 'legalFormType.person', value: 'PERSON' }
        : { id: 2, code: 'legalFormType.entity', value: 'ENTITY' },
    groups: [],
  };
}

export function requireClient(bank: Bank, id: number): ClientRecord {
  const c = bank.client(id);
  if (!c) throw new HttpError(404, notFoundBody('error.msg.client.id.invalid', `Client with identifier ${id} does not exist`, id));
  return c;
}

/** SavingsAccountSummaryData (docs/fineract.md §3); accountBalance only for active accounts. */
function savingsSummaryView(bank: Bank, a: SavingsAccountRecord): Record<string, unknown> {
  const product = bank.savingsProduct(a.productId);
  const active = a.statusId === 300;
  const last = bank.transactionsNewestFirst(a).find((t) => !t.reversed);
  return {
    id: a.id,
    accountNo: a.accountNo,
    productId: a.productId,
    productName: product?.name,
    shortProductName: product?.shortName,
    status: savingsStatus(a.statusId),
    currency: currencyData(bank.currency(product?.currencyCode ?? 'KES')),
    accountBalance: active ? money(bank.balance(a)) : undefined,
    accountType: accountTypeIndividual(),
    timeline: {
      submittedOnDate: localDate(a.submittedOnDate),
      activatedOnDate: localDate(a.activatedOnDate),
      closedOnDate: localDate(a.closedOnDate),
    },
    subStatus: savingsSubStatusNone(),
    lastActiveTransactionDate: localDate(last?.date),
    depositType: depositType(product?.depositTypeId ?? 100),
  };
}

/** LoanAccountSummaryData (docs/fineract.md §3). */
function loanSummaryView(bank: Bank, l: LoanRecord): Record<string, unknown> {
  const product = bank.loanProduct(l.productId);
  const totals = loanOutstanding(l);
  return {
    id: l.id,
    accountNo: l.accountNo,
    externalId: l.externalId,
    productId: l.productId,
    productName: product?.name,
    shortProductName: product?.shortName,
    status: loanStatus(l.statusId),
    loanType: accountTypeIndividual(),
    loanCycle: bank.loansOf(l.clientId).filter((x) => x.id <= l.id && x.disbursedOnDate).length,
    currency: currencyData(bank.currency(product?.currencyCode ?? 'KES')),
    originalLoan: decimal6(l.principal),
    loanBalance: l.disbursedOnDate ? money(totals.total) : undefined,
    amountPaid: l.disbursedOnDate ? money(totals.totalPaid) : undefined,
    inArrears: false,
    timeline: {
      submittedOnDate: localDate(l.submittedOnDate),
      approvedOnDate: localDate(l.approvedOnDate),
      actualDisbursementDate: localDate(l.disbursedOnDate),
      closedOnDate: localDate(l.closedOnDate),
    },
  };
}

function clientSearchData(bank: Bank, c: ClientRecord): Record<string, unknown> {
  return {
    entityId: c.id,
    entityAccountNo: c.accountNo,
    entityExternalId: c.externalId,
    entityName: displayName(c),
    entityType: 'CLIENT',
    parentId: c.officeId,
    parentName: bank.office(c.officeId)?.name,
    entityMobileNo: c.mobileNo,
    entityStatus: clientStatus(c.statusId),
  };
}

function accountSearchData(bank: Bank, type: 'SAVING' | 'LOAN', a: SavingsAccountRecord | LoanRecord): Record<string, unknown> {
  const client = bank.client(a.clientId);
  const product = type === 'SAVING' ? bank.savingsProduct(a.productId) : bank.loanProduct(a.productId);
  return {
    entityId: a.id,
    entityAccountNo: a.accountNo,
    entityName: product?.name,
    entityType: type,
    parentId: a.clientId,
    parentName: client ? displayName(client) : undefined,
    parentType: 'client',
    entityStatus: type === 'SAVING' ? savingsStatus(a.statusId) : loanStatus(a.statusId),
  };
}

export const clientRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/search',
    permission: 'READ_CLIENT',
    handler: ({ bank, query }) => {
      const q = query.get('query');
      if (q === null || q === '') return ok([]);
      const exact = boolParam(query, 'exactMatch');
      const resources = query.get('resource');
      // SearchConditions: each resource is searched when its name is contained in `resource`, case-insensitively.
      const wants = (r: string): boolean => resources === null || resources.toLowerCase().includes(r.toLowerCase());
      const results: Record<string, unknown>[] = [];
      if (wants('clients')) results.push(...bank.searchClients(q, exact).map((c) => clientSearchData(bank, c)));
      if (wants('loans')) results.push(...bank.searchLoans(q, exact).map((l) => accountSearchData(bank, 'LOAN', l)));
      if (wants('savings')) results.push(...bank.searchSavings(q, exact).map((s) => accountSearchData(bank, 'SAVING', s)));
      if (wants('clientIdentifiers')) {
        // SearchReadPlatformServiceImpl.clientIdentifierMatchSql: the identifier's id and key, its client as parent,
        // the client's status as the row's status.
        for (const { client, identifier } of bank.searchClientIdentifiers(q, exact)) {
          results.push({
            entityId: identifier.id,
            entityName: identifier.documentKey,
            entityType: 'CLIENTIDENTIFIER',
            parentId: client.id,
            parentName: displayName(client),
            entityStatus: clientStatus(client.statusId),
          });
        }
      }
      return ok(results);
    },
  },
  {
    method: 'GET',
    pattern: '/clients',
    permission: 'READ_CLIENT',
    handler: ({ bank, query }) => {
      // ClientsApiResource.retrieveAll: `externalId` filters with SQL LIKE (ClientReadPlatformServiceImpl).
      const { total, page } = bank.clients(intParam(query, 'offset', 0), intParam(query, 'limit', 200, 1, 1000), query.get('externalId'));
      return ok({ totalFilteredRecords: total, pageItems: page.map((c) => clientView(bank, c)) });
    },
  },
  {
    method: 'GET',
    pattern: '/clients/{clientId}',
    permission: 'READ_CLIENT',
    handler: ({ bank, params }) => ok(clientView(bank, requireClient(bank, params.clientId as number))),
  },
  {
    // ClientIdentifiersApiResource.retrieveAllClientIdentifiers: one SQL query joined on the client, so an
    // unknown client is an empty list, not a 404 (docs/fineract.md §2.4).
    method: 'GET',
    pattern: '/clients/{clientId}/identifiers',
    permission: 'READ_CLIENTIDENTIFIER',
    handler: ({ bank, params }) => {
      const client = bank.client(params.clientId as number);
      return ok(
        (client?.identifiers ?? []).map((d) => ({
          id: d.id,
          clientId: client!.id,
          documentType: { id: d.documentTypeId, name: d.documentType },
          documentKey: d.documentKey,
          ...(d.description ? { description: d.description } : {}),
          status: d.status === 200 ? 'clientIdentifierStatusType.active' : 'clientIdentifierStatusType.inactive',
        })),
      );
    },
  },
  {
    method: 'GET',
    pattern: '/clients/{clientId}/accounts',
    permission: 'READ_CLIENT',
    handler: ({ bank, params }) => {
      const client = requireClient(bank, params.clientId as number);
      return ok({
        savingsAccounts: nonEmpty(bank.savingsAccountsOf(client.id).map((a) => savingsSummaryView(bank, a))),
        loanAccounts: nonEmpty(bank.loansOf(client.id).map((l) => loanSummaryView(bank, l))),
      });
    },
  },
];
