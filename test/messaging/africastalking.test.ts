import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAfricasTalkingSdk, type AfricasTalkingApi } from '../../src/messaging/africastalking-sdk.js';
import { AfricasTalkingMessenger, smsOutcome } from '../../src/messaging/africastalking-messenger.js';
import { AfricasTalkingDialer, callOutcome } from '../../src/messaging/africastalking-dialer.js';
import { PermanentDeliveryError, TransientDeliveryError } from '../../src/messaging/errors.js';
import { FakeProvider, atCallAnswer, atSmsAnswer } from './fake-provider.js';

/**
 * The Africa's Talking adapters, through the real `africastalking` SDK, against a loopback fake of AT's API
 * (the SDK's URLs pointed at it): what goes on the wire, and how each answer is judged.
 */

const AMINA = '+254711000001';
const VOICE_NUMBER = '+254711082000';
let fake: FakeProvider;
let sdk: AfricasTalkingApi;

beforeAll(async () => {
  fake = await new FakeProvider().start();
  sdk = createAfricasTalkingSdk({
    username: 'kiunga-test',
    apiKey: 'at-test-key',
    endpoints: { sms: `${fake.url}/version1/messaging`, voice: fake.url, content: `${fake.url}/content/version1` },
  });
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

describe("Africa's Talking SMS", () => {
  it('should post username, to, message and bulkSMSMode with the apikey header, nothing "undefined", and return the message id', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(101, 'Success') }));
    const messenger = new AfricasTalkingMessenger({ sdk });
    const { id } = await messenger.send({ to: AMINA, text: 'Balance KES 12,500.00 & more', ref: 'r1' });
    expect(id).toMatch(/^ATXid_/);
    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/version1/messaging');
    expect(req.headers.apikey).toBe('at-test-key');
    expect(req.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(req.pairs).toEqual([
      ['username', 'kiunga-test'],
      ['to', AMINA],
      ['message', 'Balance KES 12,500.00 & more'],
      ['bulkSMSMode', '1'],
    ]);
    expect(req.raw).not.toContain('undefined');
  });

  it('should send from the sender id when one is configured', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(100, 'Processed') }));
    await new AfricasTalkingMessenger({ sdk, from: 'KIUNGA' }).send({ to: AMINA, text: 'hi' });
    expect(fake.requests[0]!.form.from).toBe('KIUNGA');
    expect(fake.requests[0]!.raw).not.toContain('undefined');
  });

  it('should answer a premium message as a premium reply with its linkId and keyword, never "undefined"', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(101, 'Success') }));
    const messenger = new AfricasTalkingMessenger({ sdk, from: 'KIUNGA' });
    await messenger.send({ to: AMINA, text: 'Balance ...', linkId: 'SampleLinkId123', shortCode: '22384', keyword: 'BAL' });
    const req = fake.requests[0]!;
    expect(req.path).toBe('/content/version1/messaging');
    expect(Object.fromEntries(req.pairs)).toEqual({
      username: 'kiunga-test',
      to: AMINA,
      message: 'Balance ...',
      from: '22384',
      bulkSMSMode: '0',
      keyword: 'BAL',
      linkId: 'SampleLinkId123',
    });
    expect(req.raw).not.toContain('undefined');
    // Without the keyword the SDK cannot send a premium reply: a standard SMS from the sender id instead.
    await messenger.send({ to: AMINA, text: 'Balance ...', linkId: 'SampleLinkId123', shortCode: '22384' });
    expect(fake.requests[1]!.path).toBe('/version1/messaging');
    expect(fake.requests[1]!.form).toMatchObject({ from: 'KIUNGA', bulkSMSMode: '1' });
    expect(fake.requests[1]!.raw).not.toMatch(/linkId|undefined/);
  });

  it('should accept 100, 101 and 102 and judge every other recipient status by its meaning', () => {
    for (const code of [100, 101, 102]) expect(smsOutcome(atSmsAnswer(code, 'x')).id).toMatch(/^ATXid_/);
    for (const [code, status] of [
      [402, 'InvalidSenderId'],
      [403, 'InvalidPhoneNumber'],
      [404, 'UnsupportedNumberType'],
      [406, 'UserInBlacklist'],
      [407, 'CouldNotRoute'],
      [409, 'DoNotDisturbRejection'],
      [502, 'RejectedByGateway'],
    ] as const) {
      expect(() => smsOutcome(atSmsAnswer(code, status)), status).toThrow(PermanentDeliveryError);
    }
    for (const [code, status] of [
      [401, 'RiskHold'],
      [405, 'InsufficientBalance'],
      [500, 'InternalServerError'],
      [501, 'GatewayError'],
      [999, 'Whatever'],
    ] as const) {
      expect(() => smsOutcome(atSmsAnswer(code, status)), status).toThrow(TransientDeliveryError);
    }
    expect(() => smsOutcome({ SMSMessageData: { Message: 'InvalidSenderId', Recipients: [] } })).toThrow(PermanentDeliveryError);
    expect(() => smsOutcome({ SMSMessageData: { Message: 'Something', Recipients: [] } })).toThrow(TransientDeliveryError);
    expect(() => smsOutcome('<html>')).toThrow(TransientDeliveryError);
  });

  it('should fail for good on a blacklisted recipient, without the number in the error', async () => {
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(406, 'UserInBlacklist') }));
    const err = await new AfricasTalkingMessenger({ sdk }).send({ to: AMINA, text: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect((err as Error).message).toBe('africastalking sms refused: 406 UserInBlacklist');
    expect((err as Error).message).not.toContain('711000001');
  });

  it('should retry (transient) on HTTP 5xx, 401 and no answer, and give up (permanent) on another 4xx', async () => {
    const messenger = new AfricasTalkingMessenger({ sdk, timeoutMs: 300 });
    const cases: [number, typeof TransientDeliveryError | typeof PermanentDeliveryError][] = [
      [500, TransientDeliveryError],
      [503, TransientDeliveryError],
      [401, TransientDeliveryError],
      [429, TransientDeliveryError],
      [400, PermanentDeliveryError],
    ];
    for (const [status, kind] of cases) {
      fake.on('/version1/messaging', () => ({ status, body: 'The supplied authentication is invalid' }));
      await expect(messenger.send({ to: AMINA, text: 'hi' }), `HTTP ${status}`).rejects.toBeInstanceOf(kind);
    }
    // A 200 (not AT's 201) with an accepted recipient is still a success.
    fake.on('/version1/messaging', () => ({ status: 200, body: atSmsAnswer(101, 'Success') }));
    await expect(messenger.send({ to: AMINA, text: 'hi' })).resolves.toMatchObject({ id: expect.stringMatching(/^ATXid_/) });
    // No answer in time.
    fake.on('/version1/messaging', () => ({ status: 201, body: atSmsAnswer(101, 'Success'), delayMs: 1000 }));
    const slow = await messenger.send({ to: AMINA, text: 'hi' }).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(TransientDeliveryError);
    expect((slow as Error).message).toMatch(/no answer within 300 ms/);
  });

  it('should refuse a number the SDK cannot validate without calling AT', async () => {
    await expect(new AfricasTalkingMessenger({ sdk }).send({ to: '0711000001', text: 'hi' })).rejects.toBeInstanceOf(
      PermanentDeliveryError,
    );
    expect(fake.requests).toHaveLength(0);
  });
});

describe("Africa's Talking calls", () => {
  it('should post username, to, from and the ref as clientRequestId, and return the session id', async () => {
    fake.on('/call', () => ({ status: 201, body: atCallAnswer('Queued') }));
    const dialer = new AfricasTalkingDialer({ sdk, from: VOICE_NUMBER });
    const { id } = await dialer.call({ to: AMINA, ref: 'cb-123' });
    expect(id).toMatch(/^ATVId_/);
    const req = fake.to('/call')[0]!;
    expect(req.headers.apikey).toBe('at-test-key');
    expect(req.pairs).toEqual([
      ['username', 'kiunga-test'],
      ['to', AMINA],
      ['from', VOICE_NUMBER],
      ['clientRequestId', 'cb-123'],
    ]);
    expect(req.raw).not.toContain('undefined');
  });

  it('should judge AT call statuses: invalid numbers for good, credit and unknown answers transient', async () => {
    expect(callOutcome(atCallAnswer('Queued')).id).toMatch(/^ATVId_/);
    expect(() => callOutcome(atCallAnswer('InvalidPhoneNumber'))).toThrow(PermanentDeliveryError);
    expect(() => callOutcome(atCallAnswer('DestinationNotSupported'))).toThrow(PermanentDeliveryError);
    expect(() => callOutcome(atCallAnswer('InsufficientCredit'))).toThrow(TransientDeliveryError);
    expect(() => callOutcome({ entries: [], errorMessage: 'Invalid callerId' })).toThrow(TransientDeliveryError);
  });

  it("should turn the SDK's string rejection (invalid number) into a permanent refusal, without calling AT", async () => {
    const err = await new AfricasTalkingDialer({ sdk, from: VOICE_NUMBER }).call({ to: '+2547', ref: 'cb-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect(fake.to('/call')).toHaveLength(0);
  });

  it('should retry on a 5xx from the voice API', async () => {
    fake.on('/call', () => ({ status: 502, body: 'bad gateway' }));
    await expect(new AfricasTalkingDialer({ sdk, from: VOICE_NUMBER }).call({ to: AMINA, ref: 'cb-2' })).rejects.toBeInstanceOf(
      TransientDeliveryError,
    );
  });
});
