import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { channelAdapters } from '../../src/channels/index.js';

/** Every adapter in the one list follows the contract, and together they serve exactly the public channel routes. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ REDIS_URL: '' });
});
afterAll(async () => {
  await server?.close();
});

describe('the channel adapter list', () => {
  it('should give every adapter a verification, routes with a form schema, toInbound and render', () => {
    const adapters = channelAdapters({ ...server.services, config: server.config });
    expect(adapters.map((a) => a.name)).toEqual([
      'africastalking-ussd',
      'africastalking-sms',
      'twilio-sms',
      'twilio-voice',
      'africastalking-voice',
    ]);
    for (const adapter of adapters) {
      expect(adapter.verify).toBe(adapter.name.startsWith('twilio') ? 'twilio-signature' : 'callback-key');
      expect(typeof adapter.toInbound).toBe('function');
      expect(typeof adapter.render).toBe('function');
      for (const route of adapter.routes) {
        expect(typeof route.form.safeParse).toBe('function');
        expect(route.label).toMatch(/^(at|twilio)-/);
      }
    }
    expect(adapters.flatMap((a) => a.routes.map((r) => r.path)).sort()).toEqual([
      '/channels/africastalking/sms',
      '/channels/africastalking/sms/delivery',
      '/channels/africastalking/ussd',
      '/channels/africastalking/ussd/events',
      '/channels/africastalking/voice',
      '/channels/twilio/sms',
      '/channels/twilio/voice',
      '/channels/twilio/voice/status',
    ]);
  });

  it("should turn AT's cumulative USSD text into this hop's input, keeping only a keyed hash of it", () => {
    const [ussd] = channelAdapters({ ...server.services, config: server.config });
    const inbound = ussd!.toInbound(
      { sessionId: 'ATUid_x', phoneNumber: '+254711000001', serviceCode: '*384*123#', text: '1234*1' } as never,
      {} as never,
    ) as {
      msisdn: string;
      sessionId: string;
      inputs(previous: unknown): { inputs: string[]; transport: unknown };
    };
    expect(inbound).toMatchObject({ sessionId: 'at:ATUid_x', msisdn: '+254711000001' });
    const first = inbound.inputs(undefined);
    expect(first.inputs).toEqual(['1234', '1']);
    expect(JSON.stringify(first.transport)).not.toContain('1234');
  });
});
