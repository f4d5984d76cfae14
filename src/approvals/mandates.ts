import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { withLock } from '../session/lock.js';
import { FineractError } from '../fineract/errors.js';
import type { CallOptions, Customer, SavingsAccount, SavingsAccountSummary } from '../fineract/types.js';
import type { TransferIntent } from '../money/transfer-types.js';
import { maskName } from '../text/names.js';
import type { ApprovalParty, ApprovalRecheck, ApprovalRecord, ApprovalService } from './approval.js';
import type { HopContext } from '../session/hop-context.js';

/**
 * Mandates (issue 11, threat T15): who may raise a payment from a business's savings account and who must
 * approve it, held in Kiunga (Fineract runs through one service account, so its own maker-checker cannot
 * tell Kiunga's customers apart). Per savings account number: the owner (the Fineract client), initiators
 * and approvers (client ids), rules by amount band (minor units, inclusive, from 0 up, the last one open)
 * giving how many approvals a payment needs, an expiry, and a version bumped on each change so that an
 * approval raised under an older mandate fails its re-check.
 *
 * A mandate that cannot be satisfied is refused: a band needing more approvers than there are once the
 * person raising the payment is left out (every initiator, and the owner, who may dial too: a mandate
 * binds every money-out from the account), overlapping or gapped bands, an empty list.
 */

export interface MandateRule {
  /** Lowest amount of the band, minor units, inclusive. */
  minCents: number;
  /** Highest amount, inclusive; absent for the last, open band. */
  maxCents?: number;
  /** Approvals needed in this band (k of the approvers). */
  required: number;
}

/** What an operator sends (`PUT /admin/mandates/<accountNo>`). */
export interface MandateInput {
  /** The account's owner in Fineract (the business client). */
  clientId: number;
  initiators: number[];
  approvers: number[];
  rules: MandateRule[];
  /** How long an approval waits (default APPROVAL_DEFAULT_EXPIRY_S). */
  expiryS?: number;
}

export interface Mandate extends Required<Omit<MandateInput, 'expiryS'>> {
  accountNo: string;
  accountId: number;
  officeId: number;
  currency: string;
  /** The business's name as Fineract holds it ("Duma Traders Ltd"), shown to its initiators. */
  name: string;
  expiryS: number;
  version: number;
  updatedAt: string;
  /** `operator:<name>` or `system` (sandbox demo data). */
  updatedBy: string;
}

/** Why a mandate is refused (the admin API answers it as is: no name, no number). */
export function mandateProblem(input: MandateInput): string | undefined {
  const ids = (list: number[]) => list.every((id) => Number.isSafeInteger(id) && id > 0) && new Set(list).size === list.length;
  if (input.initiators.length === 0) return 'a mandate needs at least one initiator';
  if (input.approvers.length === 0) return 'a mandate needs at least one approver';
  if (!ids(input.initiators) || !ids(input.approvers)) return 'initiators and approvers are distinct client ids';
  if (input.rules.length === 0) return 'a mandate needs at least one rule';
  const rules = [...input.rules].sort((a, b) => a.minCents - b.minCents);
  if (rules[0]!.minCents !== 0) return 'the first band must start at 0 (amounts below it would have no rule)';
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (!Number.isSafeInteger(rule.required) || rule.required < 1) return 'every band needs at least one approval';
    if (rule.maxCents !== undefined && rule.maxCents < rule.minCents) return 'a band ends before it starts';
    const next = rules[i + 1];
    if (!next) {
      if (rule.maxCents !== undefined) return 'the last band must be open (no maxCents): larger amounts would have no rule';
      continue;
    }
    if (rule.maxCents === undefined || next.minCents <= rule.maxCents) return 'bands overlap';
    if (next.minCents > rule.maxCents + 1) return 'bands leave a gap';
  }
  const needed = Math.max(...rules.map((r) => r.required));
  // Whoever raises a payment never approves it: each possible requester must leave enough approvers.
  for (const requester of new Set([input.clientId, ...input.initiators])) {
    const others = input.approvers.filter((id) => id !== requester).length;
    if (others < needed)
      return others === 0
        ? 'an initiator would be the sole approver of their own payments'
        : `a band needs ${needed} approvals but a payment raised by one of the initiators would have only ${others} approvers`;
  }
  return undefined;
}

/** The band an amount falls in. */
export function ruleFor(mandate: Pick<Mandate, 'rules'>, cents: number): MandateRule {
  return mandate.rules.find((r) => cents >= r.minCents && (r.maxCents === undefined || cents <= r.maxCents)) ?? mandate.rules.at(-1)!;
}

/** The rule an approval records: account, version, band and k, e.g. `mandate:000000004@v3 band 0- needs 1`. */
export const ruleText = (mandate: Mandate, rule: MandateRule) =>
  `mandate:${mandate.accountNo}@v${mandate.version} band ${rule.minCents}-${rule.maxCents ?? ''} needs ${rule.required}`;

const RULE_TEXT = /^mandate:(\d{1,20})@v(\d+) /;

/** The Fineract calls the registry makes. */
export interface MandateFineract {
  getClient(clientId: number, call?: CallOptions): Promise<Customer>;
  listAccounts(clientId: number): Promise<{ savings: SavingsAccountSummary[] }>;
  getOwnedSavingsAccount(clientId: number, accountId: number, options?: CallOptions): Promise<SavingsAccount>;
}

export interface MandateRegistryOptions {
  store: KeyValueStore;
  keys: Keys;
  fineract: MandateFineract;
  /** APPROVAL_DEFAULT_EXPIRY_S. */
  defaultExpiryS: number;
  /** The transfer limits (the same as any send): checked again just before an approved payment runs. */
  checkLimits(clientId: number, cents: number): Promise<string | undefined>;
  /** DEFAULT_LANGUAGE: an approver who never dialled gets SMS in it. */
  defaultLanguage: string;
  logger: Logger;
}

export class MandateError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
    this.name = 'MandateError';
  }
}

export class MandateRegistry {
  private readonly base: string;

  constructor(private readonly options: MandateRegistryOptions) {
    this.base = `${options.keys.prefix}:{mandates}`;
  }

  async get(accountNo: string): Promise<Mandate | undefined> {
    if (!/^\d{1,20}$/.test(accountNo)) return undefined;
    const raw = await this.options.store.get(`${this.base}:account:${accountNo}`);
    return raw ? (JSON.parse(raw) as Mandate) : undefined;
  }

  /** The mandate that binds a savings account (by Fineract id), if any: every money-out from it goes through it. */
  async forAccountId(accountId: number): Promise<Mandate | undefined> {
    const accountNo = await this.options.store.get(`${this.base}:id:${accountId}`);
    return accountNo ? this.get(accountNo) : undefined;
  }

  /** Accounts this client may raise payments from as an initiator (not as the owner). */
  async initiatorOf(clientId: number): Promise<Mandate[]> {
    const list = JSON.parse((await this.options.store.get(`${this.base}:initiator:${clientId}`)) ?? '[]') as string[];
    const out: Mandate[] = [];
    for (const accountNo of list) {
      const mandate = await this.get(accountNo);
      if (mandate?.initiators.includes(clientId)) out.push(mandate);
    }
    return out;
  }

  /**
   * Writes a mandate (a new one, or the next version): checks it can be satisfied, that the account is a
   * savings account of `clientId` and that every person is a client Fineract knows. Rejects with MandateError.
   */
  async put(accountNo: string, input: MandateInput, by: string): Promise<Mandate> {
    if (!/^\d{1,20}$/.test(accountNo)) throw new MandateError(400, 'accountNo must be digits');
    const problem = mandateProblem(input);
    if (problem) throw new MandateError(400, problem);
    const { fineract } = this.options;
    const owner = await fineract.getClient(input.clientId).catch(notFound(404, 'no such client'));
    const account = (await fineract.listAccounts(input.clientId)).savings.find((s) => s.accountNo === accountNo);
    if (!account) throw new MandateError(404, 'no such savings account for this client');
    for (const id of new Set([...input.initiators, ...input.approvers]))
      await fineract.getClient(id).catch(notFound(400, 'unknown client in the mandate'));
    return withLock(this.options.store, `${this.base}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const previous = await this.get(accountNo);
      const mandate: Mandate = {
        accountNo,
        accountId: account.id,
        clientId: input.clientId,
        officeId: owner.officeId,
        currency: account.currency,
        name: owner.displayName,
        initiators: [...input.initiators],
        approvers: [...input.approvers],
        rules: [...input.rules].sort((a, b) => a.minCents - b.minCents),
        expiryS: input.expiryS ?? previous?.expiryS ?? this.options.defaultExpiryS,
        version: (previous?.version ?? 0) + 1,
        updatedAt: new Date().toISOString(),
        updatedBy: by,
      };
      const { store } = this.options;
      await store.set(`${this.base}:account:${accountNo}`, JSON.stringify(mandate));
      await store.set(`${this.base}:id:${account.id}`, accountNo);
      // Initiators' lists: drop the account from those no longer named, add it for the new ones.
      for (const id of new Set([...(previous?.initiators ?? []), ...mandate.initiators])) {
        const key = `${this.base}:initiator:${id}`;
        const list = new Set(JSON.parse((await store.get(key)) ?? '[]') as string[]);
        if (mandate.initiators.includes(id)) list.add(accountNo);
        else list.delete(accountNo);
        await store.set(key, JSON.stringify([...list].sort()));
      }
      this.options.logger.info({ accountNo, version: mandate.version, by }, 'mandate written');
      return mandate;
    });
  }

  /**
   * Lifts an account's mandate: its money-outs are sent as any other again. Approvals raised under it fail
   * their re-check (`mandate-changed`). Tests that pay from the demo business account use it.
   */
  async remove(accountNo: string): Promise<void> {
    await withLock(this.options.store, `${this.base}:lock`, { ttlMs: 5000, waitMs: 3000 }, async () => {
      const previous = await this.get(accountNo);
      if (!previous) return;
      const { store } = this.options;
      await store.delete(`${this.base}:account:${accountNo}`);
      await store.delete(`${this.base}:id:${previous.accountId}`);
      for (const id of previous.initiators) {
        const key = `${this.base}:initiator:${id}`;
        const list = (JSON.parse((await store.get(key)) ?? '[]') as string[]).filter((n) => n !== accountNo);
        await store.set(key, JSON.stringify(list));
      }
      this.options.logger.info({ accountNo }, 'mandate removed');
    });
  }

  /** Writes `input` unless the account has a mandate already (sandbox demo data at start). */
  async seedIfAbsent(accountNo: string, input: MandateInput): Promise<void> {
    if (await this.get(accountNo)) return;
    await this.put(accountNo, input, 'system');
  }

  /** One person of a mandate, as approvals name and reach them. */
  async party(clientId: number, hop?: HopContext): Promise<ApprovalParty> {
    const customer = await this.options.fineract.getClient(clientId, { hop });
    const lang =
      (await this.options.store.get(this.options.keys.language(customer.msisdn)).catch(() => null)) ?? this.options.defaultLanguage;
    return { clientId, label: maskName(customer.displayName), msisdn: customer.msisdn, lang };
  }

  /**
   * Raises a payment from a mandated account: the band's rule, every approver but the requester, the
   * mandate's expiry. The approval service holds the funds and tells the approvers. `key` (the session's money
   * intent id) makes the request one per intent (`ApprovalRequest.key`).
   */
  async requestPayment(
    approvals: Pick<ApprovalService, 'request'>,
    mandate: Mandate,
    requester: ApprovalParty,
    intent: TransferIntent,
    key?: string,
    /** The hop it is raised in (session/hop-context.ts), whose deadline its Fineract calls are given. */
    hop?: HopContext,
  ): Promise<ApprovalRecord> {
    const rule = ruleFor(mandate, intent.amountCents);
    const approvers: ApprovalParty[] = [];
    for (const id of mandate.approvers) if (id !== requester.clientId) approvers.push(await this.party(id, hop));
    return approvals.request(
      {
        kind: 'mandate',
        // The business pays: its name is the source on every screen and SMS, and the payee's receipt names it.
        intent: { ...intent, senderLabel: mandate.name },
        requester,
        approvers,
        required: rule.required,
        rule: ruleText(mandate, rule),
        ttlMs: mandate.expiryS * 1000,
        ...(key ? { key } : {}),
      },
      hop,
    );
  }

  /**
   * The re-check of kind `mandate` just before an approved payment runs: the mandate still at the version the
   * approval was raised under, the requester still allowed to raise it, the account active, the limits.
   */
  readonly recheck: ApprovalRecheck = async (approval, hop) => {
    const match = RULE_TEXT.exec(approval.rule);
    if (!match) return 'mandate-changed';
    const mandate = await this.get(match[1]!);
    if (!mandate || String(mandate.version) !== match[2]) return 'mandate-changed';
    const requester = approval.requester.clientId;
    if (requester !== mandate.clientId && !mandate.initiators.includes(requester)) return 'mandate-changed';
    const account = await this.options.fineract.getOwnedSavingsAccount(mandate.clientId, mandate.accountId, { hop });
    if (!account.active) return 'inactive';
    return this.options.checkLimits(approval.intent.from.clientId, approval.intent.amountCents);
  };
}

/** A client Fineract does not know becomes a MandateError; anything else (Fineract down) goes on as it is. */
const notFound = (status: 400 | 404, message: string) => (error: unknown) => {
  if (error instanceof FineractError && error.kind === 'not-found') throw new MandateError(status, message);
  throw error;
};
