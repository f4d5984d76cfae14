import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atSession, newSessionId, startTestServer, type TestServer } from '../helpers/server.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { atSms } from '../sms/helpers.js';
import { REDACT_PATHS, createLogger, maskMsisdn } from '../../src/logger.js';
import { LogCapture } from '../helpers/server.js';

/**
 * Threat T19 (and the logging half of T6): no personal data in logs. A whole day of one customer's traffic
 * (USSD balance, statement and a transfer, an SMS keyword with its PIN, AT's end-of-session notification that
 * repeats every input) must leave log lines with masked numbers only, and no PIN, no full number, no balance.
 */

const AMINA = '+254711000001'; // PIN 1234, savings 12,500.00
const BARAKA = '+254711000002'; // savings 3,000.00

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOG_LEVEL: 'debug', SMS_PIN_ENABLED: 'true' });
});
afterAll(async () => {
  await server?.close();
});

/** Every way a full demo number can be written: E.164, national, with spaces, and the bare subscriber part. */
const FULL_NUMBERS = /711000001|711000002|711 000 00[12]/;
/** The balances the journey shows: before (12,500.00 / 3,000.00) and after the 500.00 transfer. */
const BALANCES = /12,?500|12,?000|3,?500(?!\d)|12500\.|3000\.00|3,000\.00|1250000|1200000|350000/;

describe('personal data in logs (T19)', () => {
  it('should log masked numbers only, never a PIN, a full number or a balance, over a whole journey on every channel', async () => {
    // USSD: PIN, balance, mini statement, then send 500 to Baraka typed in national format.
    const a = atSession(server, AMINA);
    await a.send();
    await a.send('1234');
    expect((await a.send('1')).body).toContain('KES 12,500.00');
    const b = atSession(server, AMINA);
    await b.send();
    await b.send('1234');
    expect((await b.send('2')).body).toMatch(/^END Mini statement/);
    const t = atSession(server, AMINA);
    await t.send();
    await t.send('1234');
    await t.send('3');
    expect((await t.send('0711000002')).body).toMatch(/^CON /);
    expect((await t.send('500')).body).toMatch(/^CON /);
    expect((await t.send('1234')).body).toMatch(/^END /);
    // A dial-string shortcut: the PIN arrives in the first hop's text.
    expect((await server.ussd({ sessionId: newSessionId(), serviceCode: '*384*123#', phoneNumber: BARAKA, text: '2468*1' })).body).toMatch(
      /^END Balance/,
    );
    // AT's end-of-session notification repeats every input, the PIN included.
    await fetch(`${server.url}/channels/africastalking/ussd/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        sessionId: t.sessionId,
        phoneNumber: AMINA,
        status: 'Success',
        input: '1234*3*0711000002*500*1234',
        lastAppResponse: 'END Sent KES 500.00 to Baraka O.',
      }).toString(),
    });
    // SMS keyword with the PIN in it, and a wrong PIN by SMS.
    expect((await atSms(server, BARAKA, 'BAL 2468')).status).toBe(200);
    expect((await atSms(server, BARAKA, 'BAL 9753')).status).toBe(200);
    // Wait for both SMS replies to be handed to the messenger (their log lines are part of the check).
    for (let i = 0; i < 200 && server.services.outbox!.list(BARAKA).filter((m) => m.ref?.startsWith('at:')).length < 2; i++)
      await sleep(25);
    expect(server.services.outbox!.list(BARAKA).some((m) => m.text.includes('KES'))).toBe(true);
    await server.services.pins.unlock(2);

    // pino's "time" (epoch milliseconds) is the clock, not data; its digits can read like a balance ("...612000").
    const text = server.logs.text.replace(/"time":\d+/g, '"time":0');
    expect(server.logs.lines.length).toBeGreaterThan(20);
    expect(text).toContain(maskMsisdn(AMINA)); // the masked form is what the logs use
    expect(text).toContain(maskMsisdn(BARAKA));
    expect(text).not.toMatch(FULL_NUMBERS);
    for (const pin of ['1234', '2468', '9753']) expect(text).not.toMatch(new RegExp(`(?<![\\d.])${pin}(?![\\d.])`));
    expect(text).not.toMatch(BALANCES);
    expect(text).not.toContain('Mini statement');
  });

  it('should redact the fields that carry customer input wherever they appear in a log object', () => {
    const logs = new LogCapture();
    const logger = createLogger('info', logs);
    logger.info(
      {
        text: '1234*1',
        input: '1234',
        value: '1234',
        pin: '1234',
        req: { body: { text: '1234' }, headers: { authorization: 'Bearer s3cret-token' } },
      },
      'top level',
    );
    logger.info(
      {
        event: { type: 'INPUT', value: '1234' },
        hop: { text: '1234*3', input: '1234', pin: '1234', password: 'pw-secret', authorization: 'Basic abc' },
      },
      'nested',
    );
    expect(logs.lines).toHaveLength(2);
    expect(logs.text).not.toMatch(/1234|s3cret-token|pw-secret|Basic abc/);
    expect(logs.text.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(10);
    expect(REDACT_PATHS).toContain('req.body');
  });

  it("should write an error's type, message, code and stack only, never its other fields, and a plain err object as given", () => {
    const logs = new LogCapture();
    const logger = createLogger('info', logs);
    // As ioredis's ReplyError carries the command it answered: a key, a PIN hash, a session record.
    const error = Object.assign(new Error('ERR script failed'), {
      name: 'ReplyError',
      code: 'ERR',
      command: { name: 'evalsha', args: ['kiunga:{c:1}:pin', 'pin-hash-9f3a', '{"sl":12}'] },
    });
    logger.error({ err: error }, 'a real error');
    logger.warn({ err: { type: 'StoreUnavailable', message: 'redis get failed' } }, 'a plain one');
    const [real, plain] = logs.lines.map((l) => JSON.parse(l) as { err: Record<string, unknown> });
    expect(real!.err).toMatchObject({ type: 'ReplyError', message: 'ERR script failed', code: 'ERR' });
    expect(Object.keys(real!.err).sort()).toEqual(['code', 'message', 'stack', 'type']);
    expect(logs.text).not.toMatch(/pin-hash-9f3a|kiunga:\{c:1\}|"sl"/);
    expect(plain!.err).toEqual({ type: 'StoreUnavailable', message: 'redis get failed' });
  });
});
