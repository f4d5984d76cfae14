import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { createKeys } from '../../src/session/keys.js';
import { createMemoryQueue, type JobQueue } from '../../src/jobs/queue.js';
import { createTranslator, type Translator } from '../../src/text/i18n.js';
import type { AuditEvent } from '../../src/audit/audit.js';
import type { Customer } from '../../src/fineract/types.js';
import { createPinService } from '../../src/security/pin-service.js';
import { createChallengeService } from '../../src/security/challenge.js';
import { createIdentityService, SELF_UNLOCKS_PER_DAY, type EnrolmentMode } from '../../src/security/enrolment.js';
import { pinWeakness } from '../../src/security/pin-rules.js';
import { sandboxSimSwap } from '../../src/security/sim-swap.js';
import { captureLogs } from '../session/helpers/fixtures.js';

const PEPPER = 'enrolment-unit-pepper-0123456789';
const LOCK_MS = 60_000;
const BARAKA: Customer = {
  clientId: 2,
  displayName: 'Baraka Otieno',
  firstName: 'Baraka',
  msisdn: '+254711000002',
  officeId: 1,
  active: true,
  birthDate: '1990-07-21',
};

let translator: Translator;
beforeAll(async () => {
  translator = await createTranslator({ dir: resolve('locales'), fallback: 'en' });
});

describe('guessable PINs', () => {
  it.each([
    ['0000', 'repeated'],
    ['1234', 'sequence'],
    ['6543', 'sequence'],
    ['0123', 'sequence'],
    ['1990', 'birth-year'],
    ['0002', 'phone'],
    ['9012', undefined],
    ['2580', undefined],
    ['1357', undefined],
  ])('%s: %s', (pin, reason) => {
    expect(pinWeakness(pin, { birthDate: BARAKA.birthDate, msisdn: BARAKA.msisdn })).toBe(reason);
  });

  it('checks 6-digit PINs too: the birth year anywhere, the last digits of the number', () => {
    expect(pinWeakness('199055', { birthDate: '1990-07-21' })).toBe('birth-year');
    expect(pinWeakness('000002', { msisdn: '+254711000002' })).toBe('phone');
    expect(pinWeakness('345678')).toBe('sequence');
    expect(pinWeakness('835172', { birthDate: '1990-07-21', msisdn: '+254711000002' })).toBeUndefined();
  });
});

/** The identity service on an in-process store, with the real PIN and challenge services and a clock the test moves. */
async function harness(mode: EnrolmentMode = 'operator', swapped: string[] = []) {
  const store = createMemoryStore();
  const keys = createKeys('enrolment-unit');
  const { logger, text: logs } = captureLogs();
  const clock = { at: Date.UTC(2026, 11, 3, 8, 0, 0) };
  const now = () => clock.at;
  const audit: AuditEvent[] = [];
  const trail = { record: async (event: AuditEvent) => void audit.push(event) };
  const queue: JobQueue = createMemoryQueue({ logger });
  const sms: { to: string; text: string; ref?: string }[] = [];
  queue.handle('sms', async (job) => void sms.push({ to: job.to, text: job.text, ref: job.ref }));
  const pins = createPinService({ store, keys, pepper: PEPPER, lockMs: LOCK_MS, hardLockAfter: 3, now, audit: trail, logger });
  const challenges = createChallengeService({ store, keys, pepper: PEPPER, queue, translator, logger, audit: trail, now });
  challenges.register(queue, async (m) => {
    sms.push(m);
    return { id: `sms-${sms.length}` };
  });
  await queue.start();
  const identity = createIdentityService({
    mode,
    pins,
    challenges,
    fineract: {
      findClientByPhone: async (e164) => (e164 === BARAKA.msisdn ? BARAKA : null),
      getClient: async () => BARAKA,
    },
    simSwap: sandboxSimSwap(swapped),
    queue,
    translator,
    store,
    keys,
    pepper: PEPPER,
    supportPhone: '+254700000000',
    defaultLanguage: 'en',
    defaultCountry: 'KE',
    logger,
    audit: trail,
    now,
  });
  /** The code of the newest code SMS. */
  const lastCode = async () => {
    await queue.idle(5000);
    const text = sms.filter((m) => m.ref?.startsWith('otp-')).at(-1)?.text ?? '';
    return /\b(\d{6})\b/.exec(text)![1]!;
  };
  const lockOut = async () => {
    for (let i = 0; i < 3; i++) await pins.verify(BARAKA.clientId, '0000');
  };
  const customer = { clientId: BARAKA.clientId, msisdn: BARAKA.msisdn };
  const hop = { lang: 'en', channel: 'ussd' };
  return { store, keys, pins, challenges, identity, queue, sms, audit, clock, logs, lastCode, lockOut, customer, hop };
}

describe('self-unlock (T26: no way around the lockout)', () => {
  it('ends a timed lock with the code by SMS but keeps its escalation: the next lock lasts twice as long', async () => {
    const h = await harness();
    await h.pins.setPin(BARAKA.clientId, '2580');
    await h.lockOut();
    expect(await h.pins.status(BARAKA.clientId)).toMatchObject({ locked: true, hard: false, locks: 1, until: h.clock.at + LOCK_MS });

    expect(await h.identity.sendUnlockCode(h.customer, h.hop)).toBe('sent');
    const code = await h.lastCode();
    expect(h.sms.at(-1)?.text).toBe(`Code ${code} to unlock your PIN. It expires in 5 minutes. Never share it.`);
    expect(await h.identity.unlockWithCode(BARAKA.clientId, code)).toEqual({ result: 'ok' });
    expect(await h.pins.status(BARAKA.clientId)).toMatchObject({ locked: false, locks: 1 });
    expect(h.audit.filter((e) => e.type === 'pin.unlocked')).toHaveLength(1);

    // The PIN still has to be right, and three wrong ones lock again: for 2 × PIN_LOCK_S this time.
    await h.lockOut();
    expect(await h.pins.status(BARAKA.clientId)).toMatchObject({ locked: true, locks: 2, until: h.clock.at + 2 * LOCK_MS });
  });

  it('ends the lock only with the right code, and never a hard lock', async () => {
    const h = await harness();
    await h.pins.setPin(BARAKA.clientId, '2580');
    await h.lockOut();
    await h.identity.sendUnlockCode(h.customer, h.hop);
    const code = await h.lastCode();
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(await h.identity.unlockWithCode(BARAKA.clientId, wrong)).toEqual({ result: 'wrong', triesLeft: 2 });
    expect(await h.pins.isLocked(BARAKA.clientId)).toBe(true);

    // Three timed locks in a row make the fourth hard: no code is sent for it.
    const hard = await harness();
    await hard.pins.setPin(BARAKA.clientId, '2580');
    for (let lock = 0; lock < 4; lock++) {
      await hard.lockOut();
      hard.clock.at += 10 * LOCK_MS;
    }
    expect(await hard.pins.status(BARAKA.clientId)).toMatchObject({ locked: true, hard: true });
    expect(await hard.identity.sendUnlockCode(hard.customer, hard.hop)).toBe('hard');
    expect(hard.sms.filter((m) => m.ref?.startsWith('otp-'))).toHaveLength(0);
  });

  it('allows 3 self-unlocks a day, then sends no more codes', async () => {
    const h = await harness();
    await h.pins.setPin(BARAKA.clientId, '2580');
    for (let i = 0; i < SELF_UNLOCKS_PER_DAY; i++) {
      await h.lockOut();
      expect(await h.identity.sendUnlockCode(h.customer, h.hop)).toBe('sent');
      expect(await h.identity.unlockWithCode(BARAKA.clientId, await h.lastCode())).toEqual({ result: 'ok' });
      // Right PINs in between reset the escalation, so the next lock is timed again.
      expect(await h.pins.verify(BARAKA.clientId, '2580')).toEqual({ result: 'ok' });
    }
    await h.lockOut();
    expect(await h.identity.sendUnlockCode(h.customer, h.hop)).toBe('limit');
  });

  it('refuses a self-unlock from a SIM swapped recently', async () => {
    const h = await harness('operator', [BARAKA.msisdn]);
    await h.pins.setPin(BARAKA.clientId, '2580');
    await h.lockOut();
    expect(await h.identity.sendUnlockCode(h.customer, h.hop)).toBe('sim-swap');
  });
});

describe('PIN changes and operator resets', () => {
  it('voids every open code, audits, marks an enrolment fresh and tells the customer by SMS', async () => {
    const h = await harness();
    await h.challenges.issue(
      { purpose: 'money', clientId: BARAKA.clientId, amountCents: 2_000_000, currency: 'KES', payee: '1', source: '2' },
      { msisdn: BARAKA.msisdn, language: 'en', channel: 'ussd' },
    );
    expect(await h.challenges.pending(BARAKA.clientId, 'money')).toBeDefined();
    await h.identity.setNewPin({ ...h.customer, lang: 'en', channel: 'ussd', pin: '2580', journey: 'enrol' });
    expect(await h.challenges.pending(BARAKA.clientId, 'money')).toBeUndefined();
    expect(await h.challenges.isFreshCredential(BARAKA.clientId)).toBe(true);
    expect(await h.pins.verify(BARAKA.clientId, '2580')).toEqual({ result: 'ok' });
    await h.queue.idle(5000);
    expect(h.sms.at(-1)).toMatchObject({ to: BARAKA.msisdn, text: 'Your Kiunga PIN was changed. Not you? Call +254700000000 now.' });
    expect(h.audit.map((e) => e.type)).toEqual(expect.arrayContaining(['otp.revoked', 'enrolment.completed', 'pin.changed', 'pin.ok']));
    expect(JSON.stringify(h.audit)).not.toContain('2580');
  });

  it('keeps the first entry of a new PIN only as a keyed hash bound to the session', async () => {
    const h = await harness();
    const draft = h.identity.draftHash('at:ATUid_1', '2580');
    expect(draft).toMatch(/^[0-9a-f]{64}$/);
    expect(draft).not.toContain('2580');
    expect(h.identity.draftHash('at:ATUid_2', '2580')).not.toBe(draft);
  });

  it('on reset removes the PIN and any lock at once, voids codes, and sends a new activation code', async () => {
    const h = await harness();
    await h.pins.setPin(BARAKA.clientId, '2580');
    expect(await h.identity.enrolByOperator({ phone: BARAKA.msisdn, reset: false, operator: 'ops' })).toEqual({
      status: 'has-pin',
      clientId: 2,
    });
    await h.lockOut();
    expect(await h.identity.enrolByOperator({ phone: '0711000002', reset: true, operator: 'ops' })).toEqual({
      status: 'code-sent',
      clientId: 2,
    });
    expect(await h.pins.hasPin(BARAKA.clientId)).toBe(false);
    expect(await h.pins.isLocked(BARAKA.clientId)).toBe(false);
    expect(await h.challenges.pending(BARAKA.clientId, 'enrol')).toBeDefined();
    expect(h.audit.find((e) => e.type === 'enrolment.started')).toMatchObject({ actor: 'operator:ops', data: { reset: true } });
    expect(await h.identity.enrolmentState(h.customer, h.hop)).toBe('code-open');
    expect(await h.identity.enrolByOperator({ phone: '+254799999999', reset: false, operator: 'ops' })).toEqual({ status: 'unknown' });
    expect(await h.identity.enrolByOperator({ phone: 'abc', reset: false, operator: 'ops' })).toEqual({ status: 'invalid' });
  });

  it('in operator mode sends nothing by itself; in self mode sends the code, unless the SIM was swapped', async () => {
    const operator = await harness('operator');
    expect(await operator.identity.enrolmentState(operator.customer, operator.hop)).toBe('operator-only');
    const self = await harness('self');
    expect(await self.identity.enrolmentState(self.customer, self.hop)).toBe('code-sent');
    expect(await self.identity.enrolmentState(self.customer, self.hop)).toBe('code-open');
    const swapped = await harness('self', [BARAKA.msisdn]);
    expect(await swapped.identity.enrolmentState(swapped.customer, swapped.hop)).toBe('sim-swap');
    expect(await swapped.challenges.pending(BARAKA.clientId, 'enrol')).toBeUndefined();
  });
});
