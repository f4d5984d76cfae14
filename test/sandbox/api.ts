import { afterEach, beforeEach } from 'vitest';
import { DEMO, startSandbox, type Sandbox } from '../../src/sandbox/index.js';

/** Raw HTTP helpers for sandbox tests (real requests, no client in between). */

export const BUSINESS_DATE = '2026-11-25';
export const BASIC = `Basic ${Buffer.from(`${DEMO.username}:${DEMO.password}`).toString('base64')}`;

export type Json = any;

/**
 * A fresh sandbox on BUSINESS_DATE for every test of the calling file, closed after it. `use` receives it so
 * the file keeps it in its own variable and its tests read `sandbox` as before.
 */
export function sandboxForEachTest(use: (sandbox: Sandbox) => void): void {
  let current: Sandbox | undefined;
  beforeEach(async () => {
    current = await startSandbox({ businessDate: BUSINESS_DATE });
    use(current);
  });
  afterEach(async () => {
    await current?.close();
  });
}

export interface Answer {
  status: number;
  text: string;
  json: Json;
  headers: Headers;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export async function call(sandbox: Sandbox, path: string, o: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    authorization: BASIC,
    'fineract-platform-tenantid': DEMO.tenant,
  };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
  const res = await fetch(sandbox.url + path, {
    method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'),
    headers,
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** A valid savings→savings transfer body (Amina's wallet to Baraka's), with overrides. */
export function transferBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    fromOfficeId: 1,
    fromClientId: 1,
    fromAccountType: 2,
    fromAccountId: 1,
    toOfficeId: 1,
    toClientId: 2,
    toAccountType: 2,
    toAccountId: 2,
    transferDate: BUSINESS_DATE,
    dateFormat: 'yyyy-MM-dd',
    locale: 'en',
    transferAmount: 500,
    transferDescription: 'Kiunga send REF001',
    ...overrides,
  };
}

export function savingsTxnBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { transactionDate: BUSINESS_DATE, dateFormat: 'yyyy-MM-dd', locale: 'en', transactionAmount: 100, paymentTypeId: 2, ...overrides };
}

export function repaymentBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { transactionDate: BUSINESS_DATE, dateFormat: 'yyyy-MM-dd', locale: 'en', transactionAmount: 1000, ...overrides };
}

/** Balance of a savings account in cents, read from the live bank. */
export function balance(sandbox: Sandbox, accountId: number): number {
  const account = sandbox.bank.savingsAccount(accountId);
  if (!account) throw new Error(`no savings account ${accountId}`);
  return sandbox.bank.balance(account);
}

/** errors[].userMessageGlobalisationCode of a Fineract error body. */
export const codes = (a: Answer): string[] => (a.json?.errors ?? []).map((e: Json) => e.userMessageGlobalisationCode);
