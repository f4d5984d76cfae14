import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createMemoryStore } from '../../src/session/memory-store.js';
import { defaultKeys } from '../../src/session/keys.js';
import { createPinService } from '../../src/security/pin-service.js';
import { InvalidPinFormat } from '../../src/security/pin.js';
import type { AuditEvent } from '../../src/audit/audit.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import { PEPPER, pinContract } from './pin-contract.js';
import { sharedMemoryStore } from '../session/helpers/memory.js';
import { REDIS_URL, captureLogs, deleteByPrefix, testPrefix } from '../session/helpers/fixtures.js';
import { createKeys } from '../../src/session/keys.js';
import { keepSessionFact, newHopScope } from '../../src/session/hop-context.js';

const prefix = testPrefix();
pinContract('memory (one shared map)', sharedMemoryStore(), prefix);
pinContract('redis standalone', async () => createRedisStore(REDIS_URL), prefix);

afterAll(async () => {
  const store = createRedisStore(REDIS_URL);
  await deleteByPrefix(store, prefix);
  await store.close();
});

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

describe('PIN records (T7)', () => {
  it('stores neither the PIN nor an unkeyed hash of it', async () => {
    const store = createMemoryStore();
    const pins = createPinService({ store, pepper: PEPPER });
    await pins.setPin(1, '1234');
    const raw = (await store.get(defaultKeys.pin(1))) as string;
    const record = JSON.parse(raw) as { v: number; salt: string; hash: string };
    expect(record.v).toBe(1);
    const salt = Buffer.from(record.salt, 'base64');
    expect(salt).toHaveLength(16);
    expect(raw).not.toContain('1234');
    for (const digest of [sha256('1234'), sha256(Buffer.concat([salt, Buffer.from('1234')]))]) {
      expect(raw).not.toContain(digest.toString('hex'));
      expect(raw).not.toContain(digest.toString('base64'));
    }
    // Salted: the same PIN gives another record for another customer.
    await pins.setPin(2, '1234');
    expect(JSON.parse((await store.get(defaultKeys.pin(2))) as string).hash).not.toBe(record.hash);
  });

  it('does not verify under another pepper', async () => {
    const store = createMemoryStore();
    await createPinService({ store, pepper: PEPPER }).setPin(1, '1234');
    const other = createPinService({ store, pepper: 'another-pepper-0123456789' });
    expect(await other.verify(1, '1234')).toEqual({ result: 'wrong', attemptsLeft: 2 });
  });

  it('refuses a missing or short pepper and bad settings', () => {
    const store = createMemoryStore();
    expect(() => createPinService({ store, pepper: '' })).toThrow(TypeError);
    expect(() => createPinService({ store, pepper: 'short' })).toThrow(TypeError);
    expect(() => createPinService({ store, pepper: PEPPER, pinLength: 3 })).toThrow(TypeError);
    expect(() => createPinService({ store, pepper: PEPPER, maxFailures: 0 })).toThrow(TypeError);
    expect(() => createPinService({ store, pepper: PEPPER, hardLockAfter: -1 })).toThrow(TypeError);
    expect(() => createPinService({ store, pepper: PEPPER, lockMs: 0 })).toThrow(TypeError);
  });

  it('throws on an unreadable stored record, without the record', async () => {
    const store = createMemoryStore();
    await store.set(defaultKeys.pin(1), '{"v":1,"salt":"c2VjcmV0","hash":"x"}');
    const pins = createPinService({ store, pepper: PEPPER });
    await expect(pins.verify(1, '1234')).rejects.toThrow(/unreadable/);
    await expect(pins.verify(1, '1234')).rejects.not.toThrow(/c2VjcmV0/);
  });
});

describe('PIN check on one Redis', () => {
  it("is one command from a number, right or wrong: the script reads, clears and counts the number's lockout", async () => {
    const store = createRedisStore(REDIS_URL);
    const keys = createKeys(prefix);
    const pins = createPinService({ store, pepper: PEPPER, keys });
    await pins.setPin(77, '1234');
    const salt = (JSON.parse((await store.get(keys.pin(77))) as string) as { salt: string }).salt;
    const commands: string[] = [];
    const client = store.client as unknown as { sendCommand: (command: { name: string }) => unknown };
    const send = client.sendCommand.bind(client);
    client.sendCommand = (command) => {
      commands.push(command.name);
      return send(command);
    };
    // The salt learned by the session (as a dial or an earlier check does): no read of the record.
    const verify = (pin: string) => {
      const hop = { scope: newHopScope() };
      keepSessionFact(hop, 'pin-salt:77', salt);
      return pins.verify(77, pin, { msisdn: '+254722000301', hop });
    };
    expect(await verify('0000')).toEqual({ result: 'wrong', attemptsLeft: 2 });
    expect(commands).toEqual(['evalsha']);
    commands.length = 0;
    expect(await verify('1234')).toEqual({ result: 'ok' });
    expect(commands).toEqual(['evalsha']);
    client.sendCommand = send;
    await store.close();
  });
});

describe('PIN settings', () => {
  it('supports 6-digit PINs and another attempt limit', async () => {
    const pins = createPinService({ store: createMemoryStore(), pepper: PEPPER, pinLength: 6, maxFailures: 5 });
    await expect(pins.setPin(1, '1234')).rejects.toBeInstanceOf(InvalidPinFormat);
    await pins.setPin(1, '123456');
    expect(await pins.verify(1, '1234')).toEqual({ result: 'wrong', attemptsLeft: 4 });
    expect(await pins.verify(1, '123456')).toEqual({ result: 'ok' });
  });
});

describe('PIN secrecy (T6)', () => {
  it('never puts the PIN in an error or a log line', async () => {
    const logs = captureLogs();
    const pins = createPinService({ store: createMemoryStore(), pepper: PEPPER, logger: logs.logger });
    const error = await pins.setPin(1, '98765432').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidPinFormat);
    expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain('98765432');
    await pins.setPin(1, '5791');
    for (const guess of ['0000', '0001', '0002', '5791']) await pins.verify(1, guess);
    expect(logs.text()).toContain('PIN locked');
    for (const pin of ['5791', '0000', '0001', '0002']) expect(logs.text()).not.toContain(pin);
  });
});

describe('PIN audit entries', () => {
  it('names the client of a Fineract client and no client for a sign-up profile’s PIN, never NaN', async () => {
    const events: AuditEvent[] = [];
    const pins = createPinService({ store: createMemoryStore(), pepper: PEPPER, audit: { record: async (e) => void events.push(e) } });
    await pins.setPin(7, '2580');
    await pins.setPin('p-3f9a', '2580');
    await pins.verify(7, '2580');
    await pins.verify('p-3f9a', '9999');
    const checks = events.filter((e) => e.type === 'pin.ok' || e.type === 'pin.failed');
    expect(checks.map((e) => [e.type, e.clientId])).toEqual([
      ['pin.ok', 7],
      ['pin.failed', undefined],
    ]);
    expect(checks[1]).not.toHaveProperty('clientId');
  });
});
