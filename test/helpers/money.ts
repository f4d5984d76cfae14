/**
 * What the money e2e tests share: the sandbox's transfer requests and balances, a session brought to its
 * transfer confirmation, and the session as a process that died mid-hop left it (its record and its lock).
 */
import { expect } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { atSession, type TestServer } from './server.js';
import { keyedHash } from '../../src/security/secrets.js';
import { lockToken } from '../../src/engine/turn-lock.js';
import { decodeRecord } from '../../src/engine/session-record.js';
import type { FlowContext } from '../../src/engine/types.js';

/** The demo customer who sends money in these tests, and the PIN of every demo customer. */
export const AMINA = '+254711000001';

/** The polite end of a hop that could not be served (a lock it could not take, a failure). */
export const POLITE = 'END Sorry, the service is not available right now. Please try again later.';

/**
 * Until no job is due (twice, 100 ms apart): the delayed ones (an approval's expiry, the settle job of a void)
 * wait their time, and `queue.idle` would wait for them too.
 */
export async function jobsDone(s: TestServer): Promise<void> {
  for (let quiet = 0, i = 0; quiet < 2 && i < 600; i++) {
    quiet = (await s.services.queue.counts()).waiting === 0 ? quiet + 1 : 0;
    await sleep(100);
  }
}

/** Every `POST /accounttransfers` the sandbox received (`committed` tells which moved money). */
export const transferPosts = (s: TestServer) =>
  s.services.sandbox!.control.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/accounttransfers'));

/** A savings account's ledger balance in the sandbox, in minor units. */
export function ledgerCents(s: TestServer, accountId: number): number {
  const bank = s.services.sandbox!.bank;
  return bank.balance(bank.savingsAccount(accountId)!);
}

/** A savings account's available balance in the sandbox (holds taken off), in minor units. */
export function availableCents(s: TestServer, accountId: number): number {
  const bank = s.services.sandbox!.bank;
  return bank.availableBalance(bank.savingsAccount(accountId)!);
}

/** A savings account's ledger balance in the sandbox, in major units. */
export function balance(s: TestServer, accountId: number): number {
  return ledgerCents(s, accountId) / 100;
}

/** Amina's dial, PIN, Send money to Baraka and `amount`: the session rests on the PIN confirmation. */
export async function toConfirmation(s: TestServer, amount: string) {
  const session = atSession(s, AMINA);
  await session.send();
  await session.send('1234');
  await session.send('3');
  await session.send('0711000002');
  expect((await session.send(amount)).body).toMatch(/^CON Pay KES /);
  return session;
}

/** The flow context of a USSD session as stored (as a process that read it before dying saw it). */
export async function sessionContext(s: TestServer, sessionId: string): Promise<FlowContext> {
  const { store, keys } = s.services;
  const record = decodeRecord((await store.get(keys.session('ussd', `at:${sessionId}`)))!);
  return (record.snapshot as { context: FlowContext }).context;
}

/** Takes the session lock as the process that ran the confirming hop with `text` took it, and never releases it. */
export async function holdLockAsDeadProcess(s: TestServer, sessionId: string, text: string): Promise<void> {
  const hopKey = keyedHash(s.services.config.pin.pepper, `hop:${text}`);
  await s.services.store.set(s.services.keys.lock('ussd', `at:${sessionId}`), lockToken(hopKey), 60_000);
}
