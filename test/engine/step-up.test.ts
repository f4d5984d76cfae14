import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { Conversation } from '../../src/engine/conversation.js';
import { currentScreenMeta } from '../../src/engine/screen.js';
import type { Channel } from '../../src/engine/types.js';
import { USSD_KEYS } from '../../src/constants.js';
import { LogCapture } from '../helpers/server.js';

/**
 * The step-up's channel rule (threat T31) on the shipped banking flow and the real services (in-process store,
 * built-in sandbox): the code never travels on the channel it authorises. A USSD or voice intent gets it by SMS;
 * an intent made over SMS cannot be stepped up, so it is refused with nothing sent and nothing moved (the PIN
 * is accepted over SMS here, SMS_PIN_ENABLED=true, to reach the confirmation).
 */

const DUMA = '+254711000004';
let services: Services;

beforeAll(async () => {
  services = await createServices(
    loadConfig({ LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', REDIS_URL: '', SMS_PIN_ENABLED: 'true' }),
    createLogger('info', new LogCapture()),
  );
  // Duma pays here as a customer paying their own money; the demo mandate would hold it for approval (issue 11).
  await services.mandates.remove('000000004');
});
afterAll(async () => {
  await services?.close();
});

/** Duma confirms 10,000 to Baraka with his PIN on `channel`; returns the screen the flow rests on. */
async function confirmOn(channel: Channel): Promise<string> {
  const flow = services.flows.current('banking')!;
  const c = await Conversation.start(flow, { channel, session: `test:${channel}`, msisdn: DUMA, lang: 'en' }, Date.now() + 10_000);
  for (const input of ['8642', '3', '0711000002', '10000', '8642']) await c.apply(input, USSD_KEYS);
  const id = currentScreenMeta(c.flow, c.snapshot)?.id ?? String(c.snapshot.value);
  c.stop();
  return id.replace(/^banking\./, '');
}

const balance = () => services.sandbox!.bank.balance(services.sandbox!.bank.savingsAccount(4)!);
const codeSms = () => services.outbox!.list(DUMA).filter((m) => m.ref?.startsWith('otp-'));

describe('the one-time code never travels on the channel it authorises (threat T31)', () => {
  it('should send the code of a USSD intent by SMS and wait for it on the code prompt', async () => {
    const before = balance();
    expect(await confirmOn('ussd')).toBe('code');
    await services.queue.idle();
    expect(codeSms().at(-1)?.text).toMatch(/^Code \d{6} to send KES 10,000\.00 to Baraka O\. Never share it\.$/);
    expect(balance()).toBe(before);
    await services.challenges.revoke(4);
  });

  it('should refuse an intent made over SMS that needs a code, sending nothing and moving nothing', async () => {
    const before = balance();
    const sent = codeSms().length;
    expect(await confirmOn('sms')).toBe('transferFailed');
    await services.queue.idle();
    expect(codeSms()).toHaveLength(sent);
    expect(await services.challenges.pending(4, 'money')).toBeUndefined();
    expect(balance()).toBe(before);
  });
});
