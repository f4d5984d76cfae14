import type { CaseTable } from './harness.js';

/**
 * Voice webhooks that need no call placed beforehand: missed calls (rejected, no charge), calls Kiunga did
 * not place (never a PIN prompt), call ends, and the door checks. Whole call-back journeys are in test/voice.
 */

const AT_VOICE = '/channels/africastalking/voice';
const TW_VOICE = '/channels/twilio/voice';
const NOT_REQUESTED =
  'This call cannot continue. We only call you when you ask us to, and we never ask for your PIN on any other call. Goodbye.';

export const atVoiceCases: CaseTable = {
  adapter: 'africastalking-voice',
  cases: [
    {
      name: 'a missed call: rejected',
      steps: [
        {
          path: AT_VOICE,
          query: 'key=$KEY',
          form: {
            sessionId: 'ATVId_in_$ID',
            direction: 'Inbound',
            isActive: '1',
            callerNumber: '+254711000001',
            destinationNumber: '+254711082000',
          },
          status: 200,
          body: '<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>',
        },
      ],
    },
    {
      name: 'an outbound call Kiunga did not place: ended without a PIN prompt',
      threat: 'T21',
      steps: [
        {
          path: AT_VOICE,
          query: 'key=$KEY',
          form: { sessionId: 'ATVId_out_$ID', direction: 'Outbound', isActive: '1', callerNumber: '+254711000001' },
          status: 200,
          contains: [NOT_REQUESTED],
        },
      ],
    },
    {
      name: 'the end of a call: an empty answer',
      steps: [
        {
          path: AT_VOICE,
          query: 'key=$KEY',
          form: { sessionId: 'ATVId_end_$ID', direction: 'Outbound', isActive: '0', hangupCause: 'NORMAL_CLEARING' },
          status: 200,
          body: '',
        },
      ],
    },
    {
      name: 'no key: 403; no sessionId: 400; not a form: 415',
      threat: 'T1',
      steps: [
        {
          path: AT_VOICE,
          form: { sessionId: 'ATVId_$ID', direction: 'Inbound', isActive: '1', callerNumber: '+254711000001' },
          status: 403,
          body: 'forbidden',
        },
        {
          path: AT_VOICE,
          query: 'key=$KEY',
          form: { direction: 'Inbound', isActive: '1' },
          status: 400,
          body: 'missing or invalid sessionId',
        },
        {
          path: AT_VOICE,
          query: 'key=$KEY',
          raw: { type: 'application/json', body: '{}' },
          status: 415,
          body: 'expected application/x-www-form-urlencoded',
        },
      ],
    },
  ],
};

export const twilioVoiceCases: CaseTable = {
  adapter: 'twilio-voice',
  cases: [
    {
      name: 'a missed call: rejected busy',
      steps: [
        {
          path: TW_VOICE,
          form: { CallSid: 'CA$ID', Direction: 'inbound', From: '+254711000001', To: '+15005550006' },
          sign: true,
          status: 200,
          body: '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>',
        },
      ],
    },
    {
      name: 'a call Kiunga did not place: ended without a PIN prompt',
      threat: 'T21',
      steps: [
        {
          path: TW_VOICE,
          form: { CallSid: 'CA$ID', Direction: 'outbound-api', From: '+15005550006', To: '+254711000001' },
          sign: true,
          status: 200,
          contains: [NOT_REQUESTED, '<Hangup/>'],
        },
      ],
    },
    {
      name: 'a call status: an empty TwiML answer',
      steps: [
        {
          path: `${TW_VOICE}/status`,
          form: { CallSid: 'CA$ID', CallStatus: 'completed', Direction: 'outbound-api' },
          sign: true,
          status: 200,
          body: '<?xml version="1.0" encoding="UTF-8"?><Response/>',
        },
      ],
    },
    {
      name: 'a forged signature: 403',
      threat: 'T2',
      steps: [
        {
          path: TW_VOICE,
          form: { CallSid: 'CA$ID', Direction: 'inbound', From: '+254711000001' },
          sign: 'forged',
          status: 403,
          body: 'forbidden',
        },
      ],
    },
  ],
};
